package cdr

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Written reports which of ids already have a row written by this writer:
// in its daily files from since's day to today, its fallback spool files
// and its spool. A restarted instance asks before it writes rows for the
// calls its previous run left in the store, so that a call whose row was
// written but whose record could not be removed (the store was down) keeps
// one row (issue 13, 5).
func (w *Writer) Written(ids []string, since time.Time) (map[string]bool, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	found := map[string]bool{}
	check := func(rec []string) error {
		if len(rec) > 0 && want[rec[0]] {
			found[rec[0]] = true
		}
		return nil
	}
	var paths []string
	for day := since.UTC().Truncate(24 * time.Hour); !day.After(w.Now().UTC()); day = day.Add(24 * time.Hour) {
		paths = append(paths, w.dayPaths(day)...)
	}
	spoolDir := w.SpoolDir
	if spoolDir == "" {
		spoolDir = w.dir
	}
	spools, _ := filepath.Glob(filepath.Join(spoolDir, "cdr-"+w.instance+"-spool-*.csv"))
	var bad []string
	for _, p := range append(paths, spools...) {
		if err := ScanFile(p, &bad, check); err != nil && !errors.Is(err, os.ErrNotExist) {
			return found, err
		}
	}
	w.mu.Lock()
	rows := bytes.Join(w.spool, nil)
	w.mu.Unlock()
	cr := csv.NewReader(bytes.NewReader(rows))
	cr.FieldsPerRecord = -1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) || (err != nil && !errors.Is(err, csv.ErrFieldCount)) {
			break
		}
		_ = check(rec)
	}
	return found, nil
}
