package cdr

import (
	"bytes"
	"fmt"
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

// AggregatesHeader is the header of AggregatesFile.
var AggregatesHeader = []string{"date", "municipality", "offered", "answered", "abandoned", "abandoned_short", "overflowed", "rejected", "talk_s", "wrapup_s"}

// PurgeReport says what Purge did.
type PurgeReport struct {
	Days    []string
	Files   []string
	Records int
}

// Purge deletes the CDR files of days before cutoff (UTC days, from the
// file names) after appending their per-municipality daily aggregates to
// AggregatesFile in dir. Invoices must be final for those days; keep a
// disputed period by moving its files aside first.
func Purge(dir string, cutoff time.Time) (PurgeReport, error) {
	var rep PurgeReport
	paths, _ := filepath.Glob(filepath.Join(dir, "cdr-*.csv"))
	byDay := map[string][]string{}
	cut := cutoff.UTC().Format("2006-01-02")
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".csv")
		if len(name) < 10 {
			continue
		}
		day := name[len(name)-10:]
		if _, err := time.Parse("2006-01-02", day); err != nil || day >= cut {
			continue
		}
		byDay[day] = append(byDay[day], p)
	}
	for d := range byDay {
		rep.Days = append(rep.Days, d)
	}
	sort.Strings(rep.Days)
	aggPath := filepath.Join(dir, AggregatesFile)
	for _, day := range rep.Days {
		tmp, err := os.MkdirTemp(dir, ".purge-")
		if err != nil {
			return rep, err
		}
		for _, p := range byDay[day] { // read the day's files together: duplicates count once
			if err := os.Link(p, filepath.Join(tmp, filepath.Base(p))); err != nil {
				os.RemoveAll(tmp)
				return rep, err
			}
		}
		recs, st, err := Read(tmp)
		os.RemoveAll(tmp)
		if err != nil {
			return rep, err
		}
		if len(st.Bad) > 0 {
			return rep, fmt.Errorf("day %s has unreadable rows, not purged: %s", day, st.Bad[0])
		}
		if err := appendAggregates(aggPath, day, recs); err != nil {
			return rep, err
		}
		for _, p := range byDay[day] {
			if err := os.Remove(p); err != nil {
				return rep, err
			}
			rep.Files = append(rep.Files, p)
		}
		rep.Records += len(recs)
	}
	return rep, nil
}

func appendAggregates(path, day string, recs []Record) error {
	type agg struct{ offered, answered, abandoned, short, overflowed, rejected, talk, wrap int64 }
	by := map[string]*agg{}
	for _, r := range recs {
		a := by[r.Municipality]
		if a == nil {
			a = &agg{}
			by[r.Municipality] = a
		}
		a.offered++
		switch r.Disposition {
		case Answered:
			a.answered++
		case Abandoned:
			a.abandoned++
		case AbandonedShort:
			a.short++
		case Overflowed:
			a.overflowed++
		case RejectedClosed, RejectedUnknown, RejectedBusy:
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
		b.Write(csvLine(AggregatesHeader))
	}
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, k := range keys {
		a := by[k]
		b.Write(csvLine([]string{day, k, i(a.offered), i(a.answered), i(a.abandoned), i(a.short), i(a.overflowed), i(a.rejected), i((a.talk + 500) / 1000), i((a.wrap + 500) / 1000)}))
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
