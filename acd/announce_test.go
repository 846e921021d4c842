package acd

import (
	"strings"
	"testing"
	"time"
)

func TestAnnouncement(t *testing.T) {
	all := AnnounceSettings{Position: true, Wait: true, OnlyWhenImproved: true}
	for _, c := range []struct {
		pos     int
		ewt     time.Duration
		last    int
		want    string
		setting AnnounceSettings
	}{
		{3, 4 * time.Minute, 0, "position-intro num-3 wait-intro num-4 minutes", all},
		{1, 40 * time.Second, 0, "position-intro num-1 wait-intro wait-lt1", all},
		{2, 80 * time.Second, 0, "position-intro num-2 wait-intro wait-1min", all},
		{25, 31 * time.Minute, 0, "position-intro more-than-20 wait-intro more-than-20 minutes", all},
		{3, 4 * time.Minute, 3, "wait-intro num-4 minutes", all},                        // not improved: no position
		{2, 150 * time.Second, 3, "position-intro num-2 wait-intro num-3 minutes", all}, // 2.5 min → 3
		{4, time.Minute, 0, "position-intro num-4", AnnounceSettings{Position: true}},   // position only
		{0, time.Minute, 0, "", all}, // not waiting
	} {
		var got []string
		for _, p := range announcement(c.setting, c.pos, c.ewt, c.last) {
			got = append(got, strings.TrimSuffix(p, ".wav"))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("pos %d ewt %v last %d: %q, want %q", c.pos, c.ewt, c.last, g, c.want)
		}
	}
}
