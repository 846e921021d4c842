package cdr

import (
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestWrittenFindsRowsOfEarlierDays: Written finds call ids in the files of
// the days since the given time (not older ones) and in the spool.
func TestWrittenFindsRowsOfEarlierDays(t *testing.T) {
	w, err := NewWriter(t.TempDir(), "i1", nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	day := time.Date(2026, 12, 1, 23, 59, 0, 0, time.UTC)
	for i, id := range []string{"old", "yesterday", "today"} {
		at := day.Add(time.Duration(i-1) * 24 * time.Hour)
		w.Now = func() time.Time { return at }
		if err := w.Write(Record{CallID: id, ArrivedAt: at, EndedAt: at, Disposition: Abandoned}); err != nil {
			t.Fatal(err)
		}
	}
	w.spool = append(w.spool, CSVLine(Record{CallID: "spooled", Disposition: Abandoned}.Fields()))
	got, err := w.Written([]string{"old", "yesterday", "today", "spooled", "never"}, day.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !got["yesterday"] || !got["today"] || !got["spooled"] || got["old"] || got["never"] {
		t.Errorf("written %v, want yesterday, today and spooled", got)
	}
}
