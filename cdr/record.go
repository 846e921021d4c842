package cdr

import (
	"fmt"
	"strconv"
	"time"
)

// Disposition is how a call ended, from the billing office's point of view.
type Disposition string

// Dispositions written by sc115.
const (
	Answered        Disposition = "answered"
	Abandoned       Disposition = "abandoned"       // caller hung up before an agent answered
	AbandonedShort  Disposition = "abandoned_short" // … within the short-abandon threshold (reported apart)
	Overflowed      Disposition = "overflowed"      // forwarded to another 115 center
	RejectedClosed  Disposition = "rejected_closed" // outside opening hours
	RejectedUnknown Disposition = "rejected_unknown"
	RejectedBusy    Disposition = "rejected_busy" // no capacity: draining, overloaded, no RTP port, all lines busy
	Failed          Disposition = "failed"
	Interrupted     Disposition = "interrupted" // never answered; cut by shutdown or a lost instance
	// SelfService: the caller's choice in the municipality's menu answered
	// the question (a prompt, e.g. opening hours); no agent was asked.
	SelfService Disposition = "self_service"
	// CallbackFailed: the caller booked a callback (virtual hold) and the
	// citizen was not reached in the configured tries.
	CallbackFailed Disposition = "callback_failed"
)

// Record is one call's CDR: one per call, not per agent attempt. Durations
// are integer milliseconds; times are UTC.
type Record struct {
	CallID         string
	Instance       string
	Municipality   string
	DialedNumber   string
	Caller         string // already passed through Privacy
	CallerPrivacy  string // how Caller was stored: withheld, shortened, hashed, full
	ArrivedAt      time.Time
	QueuedAt       time.Time
	AnsweredAt     time.Time // an agent answered (zero if never)
	EndedAt        time.Time
	WrapupEndedAt  time.Time
	WaitMS         int64 // arrival until answered, or until the end when unanswered
	RingMS         int64 // agents' phones ringing, all attempts
	TalkMS         int64
	HoldMS         int64
	WrapupMS       int64
	Agent          string
	Queue          string
	Disposition    Disposition
	OverflowTarget string
	HangupBy       string // caller, agent, system
	SIPCode        int    // final response to the caller's INVITE (200 if answered)
	Attempts       int    // agent offers
	// A transfer by an agent (issue 14): its kind (blind, attended, queue,
	// federation), its target as sc115 dialed it (a number, agent:<id>,
	// queue:<skill>, federation:<name>), the agent who transferred, and how
	// long the transferred leg to a number or another center lasted (not
	// agents' time: not in TalkMS, not billed as the municipality's
	// minutes). The last transfer of the call, if several.
	TransferKind   string
	TransferTarget string
	TransferredBy  string
	TransferMS     int64
	// Segments lists every agent who talked on the call, when more than
	// one did (a transfer to another agent or a queue): "agent:talk_ms:wrapup_ms"
	// joined by ";", in order. TalkMS and WrapupMS are their sums, and
	// Agent is the first.
	Segments string
	// Outcome is the agent's wrap-up disposition (issue 15): resolved (at
	// first contact), forwarded, callback (needed), other; "" if none was
	// given. The first-contact-resolution KPI is resolved ÷ answered calls
	// with an outcome.
	Outcome string
	// A callback (virtual hold, issue 16): when the caller booked it, how
	// often the citizen was dialed, and when the citizen answered. The
	// call's answered_at is when the agent took the callback (its wait is
	// the caller's place in the queue: arrival until its turn), its talk
	// from the citizen's answer.
	CallbackRequestedAt time.Time
	CallbackAttempts    int
	CallbackAnsweredAt  time.Time
}

// Outcomes an agent may give a call in its wrap-up.
var Outcomes = []string{"resolved", "forwarded", "callback", "other"}

// ValidOutcome says whether o is one of Outcomes.
func ValidOutcome(o string) bool {
	for _, v := range Outcomes {
		if v == o {
			return true
		}
	}
	return false
}

// Header is the CSV header, a stable interface documented in the README.
var Header = []string{"call_id", "instance", "municipality", "dialed_number", "caller", "caller_privacy",
	"arrived_at", "queued_at", "answered_at", "ended_at", "wrapup_ended_at",
	"wait_ms", "ring_ms", "talk_ms", "hold_ms", "wrapup_ms", "agent", "queue", "disposition",
	"overflow_target", "hangup_by", "sip_code", "attempts",
	"transfer_kind", "transfer_target", "transferred_by", "transfer_ms", "agent_segments", "outcome",
	"callback_requested_at", "callback_attempts", "callback_answered_at"}

// Earlier versions' headers: before transfers (issue 14; their rows read
// as rows without a transfer), before the wrap-up outcome (issue 15;
// rows without an outcome) and before callbacks (issue 16). Files keep
// the header they were started with; a day's file with another header is
// continued in a new one.
var (
	headerV1 = Header[:23]
	headerV2 = Header[:28]
	headerV3 = Header[:29]
)

// TimeFormat is RFC 3339 in UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Fields returns the record as CSV fields in Header order.
func (r Record) Fields() []string {
	return []string{r.CallID, r.Instance, r.Municipality, r.DialedNumber, r.Caller, r.CallerPrivacy,
		fmtTime(r.ArrivedAt), fmtTime(r.QueuedAt), fmtTime(r.AnsweredAt), fmtTime(r.EndedAt), fmtTime(r.WrapupEndedAt),
		itoa(r.WaitMS), itoa(r.RingMS), itoa(r.TalkMS), itoa(r.HoldMS), itoa(r.WrapupMS), r.Agent, r.Queue, string(r.Disposition),
		r.OverflowTarget, r.HangupBy, itoa(int64(r.SIPCode)), itoa(int64(r.Attempts)),
		r.TransferKind, r.TransferTarget, r.TransferredBy, itoa(r.TransferMS), r.Segments, r.Outcome,
		fmtTime(r.CallbackRequestedAt), itoa(int64(r.CallbackAttempts)), fmtTime(r.CallbackAnsweredAt)}
}

// ParseRecord reads a row in Header order (as written by Fields).
func ParseRecord(f []string) (Record, error) {
	if len(f) == len(headerV1) || len(f) == len(headerV2) || len(f) == len(headerV3) {
		f = padOld(f)
	}
	if len(f) != len(Header) {
		return Record{}, fmt.Errorf("row has %d fields, want %d", len(f), len(Header))
	}
	var errs []error
	tm := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, err)
		}
		return t
	}
	num := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			errs = append(errs, err)
		}
		return n
	}
	r := Record{CallID: f[0], Instance: f[1], Municipality: f[2], DialedNumber: f[3], Caller: f[4], CallerPrivacy: f[5],
		ArrivedAt: tm(f[6]), QueuedAt: tm(f[7]), AnsweredAt: tm(f[8]), EndedAt: tm(f[9]), WrapupEndedAt: tm(f[10]),
		WaitMS: num(f[11]), RingMS: num(f[12]), TalkMS: num(f[13]), HoldMS: num(f[14]), WrapupMS: num(f[15]),
		Agent: f[16], Queue: f[17], Disposition: Disposition(f[18]), OverflowTarget: f[19], HangupBy: f[20],
		SIPCode: int(num(f[21])), Attempts: int(num(f[22])),
		TransferKind: f[23], TransferTarget: f[24], TransferredBy: f[25], TransferMS: num(f[26]), Segments: f[27], Outcome: f[28],
		CallbackRequestedAt: tm(f[29]), CallbackAttempts: int(num(f[30])), CallbackAnsweredAt: tm(f[31])}
	if r.CallID == "" {
		return r, fmt.Errorf("row without call_id")
	}
	if len(errs) > 0 {
		return r, fmt.Errorf("call %s: %v", r.CallID, errs[0])
	}
	return r, nil
}

// padOld extends a row of an earlier version's file to the current
// columns: no transfer (version 1), no outcome (versions 1 and 2), no
// callback (versions 1 to 3).
func padOld(f []string) []string {
	out := make([]string, len(Header))
	copy(out, f)
	if len(f) == len(headerV1) {
		out[26] = "0" // transfer_ms
	}
	out[30] = "0" // callback_attempts
	return out
}
