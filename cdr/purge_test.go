package cdr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// oldDay writes calls of a day long past into instance's file below dir
// (sub is a folder below dir, "" for dir itself) and returns the day.
func oldDay(t *testing.T, dir, sub, instance string, ids ...string) string {
	t.Helper()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	w, err := NewWriter(filepath.Join(dir, sub), instance, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	w.Now = func() time.Time { return at }
	for _, id := range ids {
		if err := w.Write(Record{CallID: id, Municipality: "burgdorf", ArrivedAt: at, AnsweredAt: at, TalkMS: 60_000, Disposition: Answered}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return at.Format("2006-01-02")
}

func aggregateRows(t *testing.T, dir string) []string {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(dir, AggregatesFile))
	return strings.Split(strings.TrimSpace(string(data)), "\n")[1:]
}

// TestPurgeWalksSubfolders: purge reads the folders below the CDR dir as
// billing does (one per instance), counting a call found twice once.
func TestPurgeWalksSubfolders(t *testing.T) {
	dir := t.TempDir()
	day := oldDay(t, dir, "", "i1", "a", "b")
	oldDay(t, dir, "inst2", "i2", "c", "b") // b copied from i1: once
	rep, err := Purge(dir, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 3 || len(rep.Files) != 2 {
		t.Errorf("report %+v, want 3 calls from 2 files", rep)
	}
	rows := aggregateRows(t, dir)
	if len(rows) != 1 || !strings.HasPrefix(rows[0], day+",burgdorf,3,3,0,0,0,0,180,0,") {
		t.Errorf("aggregates %q, want one row of 3 answered calls on %s", rows, day)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*", "cdr-*.csv"))
	if top, _ := filepath.Glob(filepath.Join(dir, "cdr-*.csv")); len(left)+len(top) != 0 {
		t.Errorf("CDR files left: %v %v", left, top)
	}
}

// TestPurgeInterruptedAfterAggregatesCountsOnce: a purge that died after
// appending a day's aggregates but before deleting its files is finished
// by the next run without counting the day again; one that died before
// appending is aggregated once by the next run.
func TestPurgeInterruptedAfterAggregatesCountsOnce(t *testing.T) {
	cutoff := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, appended := range []bool{true, false} {
		dir := t.TempDir()
		day := oldDay(t, dir, "", "i1", "a", "b")
		// What a purge leaves when it dies: the day's files moved into its
		// folder, and (if it got that far) the aggregates appended.
		id := day + "-1"
		folder := filepath.Join(dir, purgePrefix+id)
		if err := os.Mkdir(folder, 0o750); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "cdr-*.csv"))
		for _, f := range files {
			if err := os.Rename(f, filepath.Join(folder, filepath.Base(f))); err != nil {
				t.Fatal(err)
			}
		}
		if appended {
			recs, _, _ := Read(folder)
			if err := appendAggregates(filepath.Join(dir, AggregatesFile), day, id, recs); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Purge(dir, cutoff); err != nil {
			t.Fatal(err)
		}
		rows := aggregateRows(t, dir)
		if len(rows) != 1 || !strings.HasPrefix(rows[0], day+",burgdorf,2,2,") {
			t.Errorf("appended before the crash %v: aggregates %q, want the day once with 2 calls", appended, rows)
		}
		if _, err := os.Stat(folder); !os.IsNotExist(err) {
			t.Errorf("appended before the crash %v: purge folder left (%v)", appended, err)
		}
		// A further run changes nothing.
		if _, err := Purge(dir, cutoff); err != nil {
			t.Fatal(err)
		}
		if again := aggregateRows(t, dir); len(again) != 1 {
			t.Errorf("second run: aggregates %q", again)
		}
	}
}
