package cdr

import (
	"sort"
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
// call id seen twice is billed once: a reaper's row (hangup_by
// instance-lost: its guess) gives way to the owner's row; otherwise the
// first one read wins.
func Read(dir string) ([]Record, ReadStats, error) {
	var st ReadStats
	paths, err := Files(dir)
	if err != nil {
		return nil, st, err
	}
	byID := map[string]int{}
	var out []Record
	for _, p := range paths {
		st.Files++
		if err := ScanFile(p, &st.Bad, func(f []string) error {
			r, err := ParseRecord(f)
			if err != nil {
				return err
			}
			st.Rows++
			if i, dup := byID[r.CallID]; dup {
				st.Duplicates++
				if reaped(out[i]) && !reaped(r) {
					out[i] = r // the owner's own row wins over a reaper's
				}
				return nil
			}
			byID[r.CallID] = len(out)
			out = append(out, r)
			return nil
		}); err != nil {
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

// reaped reports whether a row was written by a reaper for a call whose
// instance was lost (older files: interrupted rows).
func reaped(r Record) bool {
	return r.HangupBy == HangupInstanceLost || r.Disposition == Interrupted
}
