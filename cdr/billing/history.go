package billing

import (
	"errors"
	"time"

	"github.com/sc115/sc115/cdr"
)

// History is what CDRs say about demand: the profile of the calls that
// wanted an agent over the week's half hours (Berlin time), their mean
// talk + wrap-up, and each municipality's calls scaled to a year.
type History struct {
	Profile      Profile
	AHT          time.Duration
	CallsPerYear map[string]int64
	// SkillCallsPerYear are the calls per queue (skill) they waited in —
	// after a menu, its choice — scaled the same way; a call that never
	// reached a queue counts for its municipality's key.
	SkillCallsPerYear map[string]int64
	// Patience is the callers' mean patience, estimated as the time all
	// callers waited over the number who hung up (exponential patience,
	// answered callers' waits censored); 0 if nobody hung up.
	Patience time.Duration
}

// MeasureHistory reads demand from CDRs. Calls that wanted an agent count
// (answered, abandoned, overflowed, failed callbacks …), not those refused
// at the door (closed, unknown number, busy) or served by the menu; the
// handling time is the answered calls' mean talk + wrap-up; the span of
// the rows is scaled to 52 weeks.
func MeasureHistory(recs []cdr.Record) (History, error) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return History{}, err
	}
	h := History{CallsPerYear: map[string]int64{}, SkillCallsPerYear: map[string]int64{}}
	counts, skills := map[string]int64{}, map[string]int64{}
	var total, answered, handleMS, waitMS, gaveUp int64
	var first, last time.Time
	for _, r := range recs {
		switch r.Disposition.Class() {
		case cdr.ClassRejected, cdr.ClassSelfService:
			continue
		case cdr.ClassAnswered:
			answered++
			handleMS += r.TalkMS + r.WrapupMS
		case cdr.ClassAbandoned, cdr.ClassAbandonedShort:
			gaveUp++
		}
		waitMS += r.WaitMS
		t := r.ArrivedAt.In(berlin)
		h.Profile.Share[t.Weekday()][t.Hour()*2+t.Minute()/30]++
		counts[r.Municipality]++
		if r.Queue != "" {
			skills[r.Queue]++
		} else {
			skills[r.Municipality]++
		}
		total++
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	if total == 0 || answered == 0 {
		return h, errors.New("no calls that wanted an agent, or none answered")
	}
	for d := range h.Profile.Share {
		for s := range h.Profile.Share[d] {
			h.Profile.Share[d][s] /= float64(total)
		}
	}
	weeks := max(1, last.Sub(first).Hours()/(24*7))
	for m, n := range counts {
		h.CallsPerYear[m] = int64(float64(n) / weeks * 52)
	}
	for q, n := range skills {
		h.SkillCallsPerYear[q] = int64(float64(n) / weeks * 52)
	}
	h.AHT = time.Duration(handleMS/answered) * time.Millisecond
	if gaveUp > 0 {
		h.Patience = time.Duration(waitMS/gaveUp) * time.Millisecond
	}
	h.Profile.Name = "measured from " + first.Format("2006-01-02") + " to " + last.Format("2006-01-02")
	return h, nil
}
