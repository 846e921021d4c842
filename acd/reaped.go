package acd

import (
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

// reapedRecord is the CDR of a call whose instance died: interrupted, with
// what the store knew.
func reapedRecord(f map[string]string, now time.Time) cdr.Record {
	ms := func(k string) time.Time {
		v, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil || v == 0 {
			return time.Time{}
		}
		return time.UnixMilli(v)
	}
	r := cdr.Record{CallID: f["id"], Instance: f["instance"], Municipality: f["municipality"], DialedNumber: f["dialed"],
		Caller: f["caller"], CallerPrivacy: f["privacy"], Queue: f["queue"], ArrivedAt: ms("arrived"), AnsweredAt: ms("answered"),
		EndedAt: now, Disposition: cdr.Interrupted, HangupBy: "system", SIPCode: 200}
	if !r.AnsweredAt.IsZero() {
		r.Agent = f["agent"]
		r.WaitMS = r.AnsweredAt.Sub(r.ArrivedAt).Milliseconds()
		r.TalkMS = now.Sub(r.AnsweredAt).Milliseconds()
	} else if !r.ArrivedAt.IsZero() {
		r.WaitMS = now.Sub(r.ArrivedAt).Milliseconds()
	}
	return r
}
