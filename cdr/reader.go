package cdr

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ReadStats says what Read found.
type ReadStats struct {
	Files      int
	Rows       int
	Duplicates int      // rows whose call_id was already read (copied files, reaper and owner)
	Bad        []string // file:line: reason of rows that could not be read
}

// Read reads every CDR file (*.csv with the CDR header) below dir, of all
// instances, and returns one record per call id, ordered by arrival. A
// call id seen twice is billed once: an interrupted row (the reaper's
// guess) gives way to the owner's row; otherwise the first one read wins.
func Read(dir string) ([]Record, ReadStats, error) {
	var st ReadStats
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".csv") && strings.HasPrefix(d.Name(), "cdr-") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	sort.Strings(paths)
	byID := map[string]int{}
	var out []Record
	for _, p := range paths {
		st.Files++
		if err := readFile(p, func(r Record) {
			st.Rows++
			if i, dup := byID[r.CallID]; dup {
				st.Duplicates++
				if out[i].Disposition == Interrupted && r.Disposition != Interrupted {
					out[i] = r
				}
				return
			}
			byID[r.CallID] = len(out)
			out = append(out, r)
		}, &st.Bad); err != nil {
			return nil, st, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].ArrivedAt.Equal(out[j].ArrivedAt) {
			return out[i].ArrivedAt.Before(out[j].ArrivedAt)
		}
		return out[i].CallID < out[j].CallID
	})
	return out, st, nil
}

func readFile(path string, each func(Record), bad *[]string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil || strings.Join(head, ",") != strings.Join(Header, ",") {
		*bad = append(*bad, fmt.Sprintf("%s:1: not a CDR file of this version (header %q)", path, strings.Join(head, ",")))
		return nil
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			*bad = append(*bad, fmt.Sprintf("%s:%d: %v", path, line, err))
			continue
		}
		r, err := ParseRecord(rec)
		if err != nil {
			*bad = append(*bad, fmt.Sprintf("%s:%d: %v", path, line, err))
			continue
		}
		each(r)
	}
}
