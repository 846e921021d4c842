package media

import (
	"testing"
	"time"
)

// TestWorstLatenessCoversTheLastWindows: the gauge shows the worst clock
// lateness of the current and the previous 10 s window, forgets it after
// that, and reading it does not reset it.
func TestWorstLatenessCoversTheLastWindows(t *testing.T) {
	var w worstLateness
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	w.observe(3*time.Millisecond, t0)
	w.observe(12*time.Millisecond, t0.Add(2*time.Second))
	w.observe(5*time.Millisecond, t0.Add(4*time.Second))
	for _, c := range []struct {
		at   time.Duration
		want time.Duration
	}{
		{5 * time.Second, 12 * time.Millisecond},
		{5 * time.Second, 12 * time.Millisecond},  // a second scrape sees the same
		{15 * time.Second, 12 * time.Millisecond}, // previous window still counts
		{25 * time.Second, 0},                     // two windows later: forgotten
	} {
		if got := w.get(t0.Add(c.at)); got != c.want {
			t.Errorf("at +%v: worst %v, want %v", c.at, got, c.want)
		}
	}
	w.observe(time.Millisecond, t0.Add(26*time.Second))
	if got := w.get(t0.Add(27 * time.Second)); got != time.Millisecond {
		t.Errorf("after a new tick: worst %v, want 1ms", got)
	}
}
