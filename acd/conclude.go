package acd

import (
	"context"

	"github.com/sc115/sc115/cdr"
)

// The end of a call: its disposition counted, its CDR written, its record
// in the store forgotten (or kept: a failed callback), and assignments to
// it stopped.

// conclude writes the call's CDR, counts it, and forgets it in the store.
func (c *call) conclude(end CallState) {
	c.concludeKept(end)
	if c.muni != nil {
		// After the CDR: if this instance dies in between, the reaper writes
		// a second row for the call id, which billing deduplicates; the
		// other order could lose the CDR.
		// Retried if the store fails: a call record left behind would make
		// the reaper write a second row.
		e := c.e
		e.storeWrite("remove-call", c.rec.CallID, nil, func(ctx context.Context) error {
			_, err := e.Store.RemoveCall(ctx, c.rec.CallID)
			return err
		})
	}
}

// concludeKept writes the call's CDR and counts it, leaving the store's
// record (a failed callback stays there for the supervisors).
func (c *call) concludeKept(end CallState) {
	e := c.e
	c.to(end)
	c.rec.EndedAt = orNow(c.rec.EndedAt, e.now())
	if c.rec.AnsweredAt.IsZero() {
		c.rec.WaitMS = c.rec.EndedAt.Sub(c.rec.ArrivedAt).Milliseconds()
		if c.rec.Disposition == cdr.Abandoned && c.rec.WaitMS < e.ShortAbandon.Milliseconds() {
			c.rec.Disposition = cdr.AbandonedShort
		}
	}
	if c.rec.SIPCode == 0 {
		c.rec.SIPCode = 200 // answered by sc115 (greeting, queue) even if no agent took it
	}
	if !c.rec.AnsweredAt.IsZero() {
		c.rec.Outcome = e.outcomeOf(c.rec.CallID)
	}
	if err := e.CDRs.Write(c.rec); err != nil {
		c.log.Error().Err(err).Msg("cdr write failed")
	}
	e.record(&c.rec)
}

// finish records the disposition and counts it.
func (c *call) finish(d cdr.Disposition, s CallState, label string) CallState {
	c.rec.Disposition = d
	switch d.Class() {
	case cdr.ClassRejected:
		c.e.m.rejected.WithLabelValues(label).Inc()
	case cdr.ClassAbandoned:
		c.e.m.abandoned.WithLabelValues(label).Inc()
	}
	return s
}

// close stops assignments to this call and frees an agent reserved for it
// in the meantime.
func (c *call) close() {
	c.e.calls.Delete(c.rec.CallID)
	c.mu.Lock()
	c.closed = true
	var pending string
	select {
	case pending = <-c.assign:
	default:
	}
	c.mu.Unlock()
	if pending != "" {
		c.e.release(pending, c.rec.CallID)
	}
	c.mu.Lock()
	c.agents = nil
	c.mu.Unlock()
}
