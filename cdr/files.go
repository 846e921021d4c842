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

// Files lists every CDR file (cdr-*.csv) in dir and the folders below it
// (one per instance, copies, a purge under way), in name order: what
// billing, estimates and Read take as the calls of a center.
func Files(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), "cdr-") && strings.HasSuffix(d.Name(), ".csv") {
			paths = append(paths, p)
		}
		return nil
	})
	sort.Strings(paths)
	return paths, err
}

// ScanFile calls each for every row of a CDR file; unreadable rows are
// reported in bad (file:line) and skipped.
func ScanFile(path string, bad *[]string, each func([]string) error) error {
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
	joined := strings.Join(head, ",")
	old := err == nil && (joined == strings.Join(headerV1, ",") || joined == strings.Join(headerV2, ",") || joined == strings.Join(headerV3, ","))
	if err != nil || !old && joined != strings.Join(Header, ",") {
		*bad = append(*bad, fmt.Sprintf("%s:1: not a CDR file of this version", path))
		return nil
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil && old && len(rec) == len(head) {
			rec = padOld(rec) // a file from before transfers or outcomes
		}
		if err == nil && len(rec) != len(Header) {
			err = fmt.Errorf("%d fields, want %d", len(rec), len(Header))
		}
		if err == nil && rec[0] == "" {
			err = errors.New("no call_id")
		}
		if err == nil {
			err = each(rec)
		}
		if err != nil {
			*bad = append(*bad, fmt.Sprintf("%s:%d: %v", path, line, err))
		}
	}
}

// headerOf is the first line of a CDR file as fields (nil if it is empty,
// missing or unreadable).
func headerOf(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	head, err := csv.NewReader(f).Read()
	if err != nil {
		return nil
	}
	return head
}
