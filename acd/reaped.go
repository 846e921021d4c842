package acd

import (
	"context"
	"strconv"
	"time"

	"github.com/sc115/sc115/cdr"
)

// callFields are the facts a call leaves in the store so that, if its
// instance dies, the reaper can still write its CDR.
func (c *call) callFields() map[string]string {
	r := c.rec
	return map[string]string{"id": r.CallID, "instance": r.Instance, "municipality": r.Municipality,
		"dialed": r.DialedNumber, "caller": r.Caller, "privacy": r.CallerPrivacy, "queue": r.Queue, "arrived": strconv.FormatInt(r.ArrivedAt.UnixMilli(), 10)}
}

// reapedRecord is the CDR of a call whose instance died, from what the
// store knew; ended is the instance's last sign of life (its last
// heartbeat; now if unknown). One billing rule holds for every way a talk
// can end: a call an agent answered is billed for its talk, here up to
// ended (hangup_by instance-lost), as a call cut by shutdown is; a call
// nobody answered is interrupted.
func reapedRecord(f map[string]string, ended time.Time) cdr.Record {
	ms := func(k string) time.Time {
		v, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil || v == 0 {
			return time.Time{}
		}
		return time.UnixMilli(v)
	}
	r := cdr.Record{CallID: f["id"], Instance: f["instance"], Municipality: f["municipality"], DialedNumber: f["dialed"],
		Caller: f["caller"], CallerPrivacy: f["privacy"], Queue: f["queue"], ArrivedAt: ms("arrived"), AnsweredAt: ms("answered"),
		EndedAt: ended, Disposition: cdr.Interrupted, HangupBy: cdr.HangupInstanceLost, SIPCode: 200}
	if cdr.ValidOutcome(f["outcome"]) {
		r.Outcome = f["outcome"] // the agent gave it before the instance died
	}
	if r.EndedAt.Before(r.ArrivedAt) {
		r.EndedAt = r.ArrivedAt
	}
	if !r.AnsweredAt.IsZero() {
		if r.EndedAt.Before(r.AnsweredAt) {
			r.EndedAt = r.AnsweredAt
		}
		r.Disposition = cdr.Answered
		r.Agent = f["agent"]
		if f["overflow"] != "" { // another center talked to the caller
			r.Disposition, r.OverflowTarget, r.Agent = cdr.Overflowed, f["overflow"], ""
		}
		r.WaitMS = r.AnsweredAt.Sub(r.ArrivedAt).Milliseconds()
		r.TalkMS = r.EndedAt.Sub(r.AnsweredAt).Milliseconds()
		r.WrapupEndedAt = r.EndedAt
	} else if !r.ArrivedAt.IsZero() {
		r.WaitMS = r.EndedAt.Sub(r.ArrivedAt).Milliseconds()
	}
	return r
}

// lastSeen is when instance was last alive, for its reaped calls' end.
func (e *Engine) lastSeen(ctx context.Context, instance string) time.Time {
	t, err := e.Store.LastSeen(ctx, instance)
	if err != nil || t.IsZero() {
		return e.now()
	}
	return t
}
