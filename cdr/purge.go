package cdr

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AggregatesFile keeps, per day and municipality, the figures that remain
// after CDRs are purged: no caller numbers, no call ids, no agents.
const AggregatesFile = "aggregates.csv"

// AggregatesHeader is the header of AggregatesFile. purge_id names the
// purge run that wrote the row: a purge interrupted after writing its rows
// but before deleting the CDR files finds its rows again and only deletes.
var AggregatesHeader = []string{"date", "municipality", "offered", "answered", "abandoned", "abandoned_short", "overflowed", "rejected", "talk_s", "wrapup_s", "purge_id"}

// purgePrefix starts the name of the folder a purge moves one day's files
// into before it aggregates them; the rest of the name is the purge id.
const purgePrefix = ".purge-"

// PurgeReport says what Purge did.
type PurgeReport struct {
	Days    []string
	Files   []string
	Records int
}

// Purge deletes the CDR files of days before cutoff (UTC days, from the
// file names; in dir and every folder below it, as billing reads them)
// after appending their per-municipality daily aggregates to
// AggregatesFile in dir. Invoices must be final for those days; keep a
// disputed period by moving its files aside first.
//
// Each day is one step that a crash cannot count twice: its files are
// moved into a folder .purge-<id>, the aggregates appended with that id,
// then the folder deleted. A later run finishes such a folder first: if the
// aggregates already hold its id it is only deleted, else it is
// aggregated and deleted.
func Purge(dir string, cutoff time.Time) (PurgeReport, error) {
	var rep PurgeReport
	aggPath := filepath.Join(dir, AggregatesFile)
	done, err := purgeIDs(aggPath)
	if err != nil {
		return rep, err
	}
	left, _ := filepath.Glob(filepath.Join(dir, purgePrefix+"*"))
	for _, p := range left { // interrupted runs first
		if err := finishPurge(&rep, aggPath, p, done); err != nil {
			return rep, err
		}
	}
	byDay := map[string][]string{}
	cut := cutoff.UTC().Format("2006-01-02")
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), purgePrefix) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), "cdr-") || !strings.HasSuffix(d.Name(), ".csv") {
			return nil
		}
		if day, ok := fileDay(d.Name()); ok && day < cut {
			byDay[day] = append(byDay[day], p)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	days := make([]string, 0, len(byDay))
	for d := range byDay {
		days = append(days, d)
	}
	sort.Strings(days)
	for _, day := range days {
		folder := filepath.Join(dir, purgePrefix+day+"-"+strconv.FormatInt(time.Now().UnixNano(), 10))
		if err := os.Mkdir(folder, 0o750); err != nil {
			return rep, err
		}
		for _, p := range byDay[day] {
			rel, _ := filepath.Rel(dir, p)
			// cdr-… keeps it a CDR file to Read (and to billing, should the
			// purge die before it is done).
			flat := "cdr-" + strings.ReplaceAll(rel, string(filepath.Separator), "__")
			if err := os.Rename(p, filepath.Join(folder, flat)); err != nil {
				return rep, err
			}
			rep.Files = append(rep.Files, p)
		}
		if err := finishPurge(&rep, aggPath, folder, done); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// fileDay is the UTC day in a CDR file's name (cdr-<instance>-<day>.csv).
func fileDay(name string) (string, bool) {
	name = strings.TrimSuffix(name, ".csv")
	if len(name) < 10 {
		return "", false
	}
	day := name[len(name)-10:]
	_, err := time.Parse("2006-01-02", day)
	return day, err == nil
}

// finishPurge aggregates one purge folder's files (unless the aggregates
// already hold its id) and deletes the folder.
func finishPurge(rep *PurgeReport, aggPath, folder string, done map[string]bool) error {
	id := strings.TrimPrefix(filepath.Base(folder), purgePrefix)
	day, _, _ := strings.Cut(id, "-")
	if len(id) > 10 {
		day = id[:10]
	}
	if !done[id] {
		recs, st, err := Read(folder) // the day's files together: duplicates count once
		if err != nil {
			return err
		}
		if len(st.Bad) > 0 {
			return fmt.Errorf("day %s has unreadable rows, not purged (its files are in %s): %s", day, folder, st.Bad[0])
		}
		if err := appendAggregates(aggPath, day, id, recs); err != nil {
			return err
		}
		done[id] = true
		rep.Records += len(recs)
	}
	if len(rep.Days) == 0 || rep.Days[len(rep.Days)-1] != day {
		rep.Days = append(rep.Days, day)
	}
	return os.RemoveAll(folder)
}

// purgeIDs are the purge ids the aggregates file holds rows of.
func purgeIDs(path string) (map[string]bool, error) {
	ids := map[string]bool{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ids, nil
	}
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, row := range rows {
		if len(row) == len(AggregatesHeader) {
			ids[row[len(row)-1]] = true
		}
	}
	return ids, nil
}

func appendAggregates(path, day, id string, recs []Record) error {
	type agg struct{ offered, answered, abandoned, short, overflowed, rejected, talk, wrap int64 }
	by := map[string]*agg{}
	for _, r := range recs {
		a := by[r.Municipality]
		if a == nil {
			a = &agg{}
			by[r.Municipality] = a
		}
		a.offered++
		switch r.Disposition.Class() {
		case ClassAnswered:
			a.answered++
		case ClassAbandoned:
			a.abandoned++
		case ClassAbandonedShort:
			a.short++
		case ClassOverflowed:
			a.overflowed++
		case ClassRejected:
			a.rejected++
		}
		a.talk += r.TalkMS
		a.wrap += r.WrapupMS
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		b.Write(CSVLine(AggregatesHeader))
	}
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, k := range keys {
		a := by[k]
		b.Write(CSVLine([]string{day, k, i(a.offered), i(a.answered), i(a.abandoned), i(a.short), i(a.overflowed), i(a.rejected), i((a.talk + 500) / 1000), i((a.wrap + 500) / 1000), id}))
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
