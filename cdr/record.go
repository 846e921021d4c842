package cdr

import (
	"strconv"
	"time"
)

// Disposition is how a call ended, from the billing office's point of view.
type Disposition string

// Dispositions written by sc115. The billing issue extends this list.
const (
	Answered    Disposition = "answered"
	Abandoned   Disposition = "abandoned"
	Rejected    Disposition = "rejected"
	Failed      Disposition = "failed"
	Interrupted Disposition = "interrupted"
)

// Record is one call's CDR: one per call, not per agent attempt. Durations
// are integer milliseconds; times are UTC.
type Record struct {
	CallID       string
	Instance     string
	Municipality string
	DialedNumber string
	Caller       string // already passed through Privacy
	ArrivedAt    time.Time
	AnsweredAt   time.Time // zero if never answered by an agent
	EndedAt      time.Time
	WaitMS       int64
	TalkMS       int64
	WrapupMS     int64
	Agent        string
	Disposition  Disposition
}

// Header is the CSV header, a stable interface documented in the README.
var Header = []string{"call_id", "instance", "municipality", "dialed_number", "caller", "arrived_at", "answered_at", "ended_at", "wait_ms", "talk_ms", "wrapup_ms", "agent", "disposition"}

// TimeFormat is RFC 3339 in UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

// Fields returns the record as CSV fields in Header order.
func (r Record) Fields() []string {
	return []string{r.CallID, r.Instance, r.Municipality, r.DialedNumber, r.Caller,
		fmtTime(r.ArrivedAt), fmtTime(r.AnsweredAt), fmtTime(r.EndedAt),
		strconv.FormatInt(r.WaitMS, 10), strconv.FormatInt(r.TalkMS, 10), strconv.FormatInt(r.WrapupMS, 10),
		r.Agent, string(r.Disposition)}
}
