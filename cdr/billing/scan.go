package billing

import (
	"fmt"
	"hash/maphash"
	"sort"
	"strconv"
	"time"

	"github.com/sc115/sc115/cdr"
)

// callFacts is what billing keeps of one call: 32 bytes and no strings, so
// a month of a million calls takes ~32 MB. Durations are ms (int32 holds
// 24 days; longer values are clamped, which no real call reaches).
type callFacts struct {
	arrived int64 // unix ms
	talk    int32
	wrapup  int32
	hold    int32
	wait    int32
	muni    uint16
	disp    uint8
	reaped  bool // written by a reaper (instance lost): the owner's row wins
}

func ms32(n int64) int32 { return int32(min(max(n, 0), 1<<31-1)) }

var dispCodes = []cdr.Disposition{cdr.Answered, cdr.Abandoned, cdr.AbandonedShort, cdr.Overflowed, cdr.RejectedClosed, cdr.RejectedUnknown, cdr.RejectedBusy, cdr.Failed, cdr.Interrupted}

func dispCode(d cdr.Disposition) uint8 {
	for i, x := range dispCodes {
		if x == d {
			return uint8(i)
		}
	}
	return uint8(len(dispCodes)) // unknown
}

// scanned is all calls of a CDR directory, deduplicated by call id.
type scanned struct {
	calls []callFacts
	munis []string // index → municipality key
	stats cdr.ReadStats
}

var hashSeed = maphash.MakeSeed()

// scanDir streams every CDR file below dir, keeping only the facts billing
// needs. A call id seen twice counts once (its 64-bit hash is the key;
// a collision among a month's calls is ~1e-8 likely): a reaper's row
// (hangup_by instance-lost, or interrupted) gives way to the owner's row,
// otherwise the first wins.
func scanDir(dir string, from, to time.Time) (*scanned, error) {
	s := &scanned{}
	paths, err := cdr.Files(dir)
	if err != nil {
		return nil, err
	}
	seen := make(map[uint64]int32)
	muniIdx := map[string]uint16{}
	fromMS, toMS := from.UnixMilli(), to.UnixMilli()
	for _, p := range paths {
		s.stats.Files++
		if err := cdr.ScanFile(p, &s.stats.Bad, func(f []string) error {
			s.stats.Rows++
			arrived, err := time.Parse(time.RFC3339Nano, f[6])
			if err != nil {
				return fmt.Errorf("arrived_at: %v", err)
			}
			ms := arrived.UnixMilli()
			if ms < fromMS || ms >= toMS {
				return nil
			}
			var n [4]int64
			for i, col := range []int{13, 15, 14, 11} { // talk, wrapup, hold, wait
				if n[i], err = strconv.ParseInt(f[col], 10, 64); err != nil {
					return fmt.Errorf("%s: %v", cdr.Header[col], err)
				}
			}
			idx, ok := muniIdx[f[2]]
			if !ok {
				idx = uint16(len(s.munis))
				muniIdx[f[2]] = idx
				s.munis = append(s.munis, f[2])
			}
			c := callFacts{arrived: ms, talk: ms32(n[0]), wrapup: ms32(n[1]), hold: ms32(n[2]), wait: ms32(n[3]), muni: idx,
				disp: dispCode(cdr.Disposition(f[18]))}
			c.reaped = f[20] == cdr.HangupInstanceLost || c.disp == dispCode(cdr.Interrupted)
			h := maphash.String(hashSeed, f[0])
			if i, dup := seen[h]; dup {
				s.stats.Duplicates++
				if s.calls[i].reaped && !c.reaped {
					s.calls[i] = c
				}
				return nil
			}
			seen[h] = int32(len(s.calls))
			s.calls = append(s.calls, c)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	// By municipality, then arrival: each municipality's calls are one
	// contiguous run, in the order included minutes are used up.
	sort.Slice(s.calls, func(i, j int) bool {
		a, b := &s.calls[i], &s.calls[j]
		if a.muni != b.muni {
			return a.muni < b.muni
		}
		return a.arrived < b.arrived
	})
	return s, nil
}
