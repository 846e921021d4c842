package acd

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// CallbackTicket is one callback as supervisors see it (GET
// /api/callbacks): waiting at its place, parked until its next try or
// opening, being run, or failed (out of tries; until dismissed).
type CallbackTicket struct {
	CallID       string    `json:"call_id"`
	Municipality string    `json:"municipality"`
	Caller       string    `json:"caller"` // as the CDR has it (privacy applied)
	State        string    `json:"state"`  // waiting, reserved, running, parked, failed
	ArrivedAt    time.Time `json:"arrived_at"`
	RequestedAt  time.Time `json:"requested_at"`
	Attempts     int       `json:"attempts"`
	// Due is when a parked callback is tried again; ParkedFor why
	// (not-reached, closed, crisis).
	Due       *time.Time `json:"due,omitempty"`
	ParkedFor string     `json:"parked_for,omitempty"`
	FailedAt  *time.Time `json:"failed_at,omitempty"`
	// Number is the number to call, shown only for a failed callback: a
	// supervisor must be able to deal with it by hand.
	Number string `json:"number,omitempty"`
	// A ticket booked by an agent: its topic, when it is due, who booked it.
	Ticket    bool       `json:"ticket"`
	Topic     string     `json:"topic,omitempty"`
	TicketDue *time.Time `json:"ticket_due,omitempty"`
	BookedBy  string     `json:"booked_by,omitempty"`
}

// Callbacks lists every callback in the store, failed ones first, then
// by arrival.
func (e *Engine) Callbacks(ctx context.Context) ([]CallbackTicket, error) {
	all, err := e.Store.Callbacks(ctx)
	if err != nil {
		return nil, err
	}
	ms := func(v string) *time.Time {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil
		}
		t := time.UnixMilli(n).UTC()
		return &t
	}
	out := make([]CallbackTicket, 0, len(all))
	for _, f := range all {
		t := CallbackTicket{CallID: f["id"], Municipality: f["municipality"], Caller: f["caller"], State: f["state"]}
		t.Attempts, _ = strconv.Atoi(f["cb_attempts"])
		if f["kind"] == "ticket" {
			t.Ticket, t.Topic, t.TicketDue, t.BookedBy = true, f["topic"], ms(f["due_at"]), f["by"]
		}
		if a := ms(f["arrived"]); a != nil {
			t.ArrivedAt = *a
		}
		if r := ms(f["cb_requested"]); r != nil {
			t.RequestedAt = *r
		}
		switch t.State {
		case "parked":
			t.Due, t.ParkedFor = ms(f["cb_due"]), f["cb_parked"]
		case "failed":
			t.FailedAt, t.Number = ms(f["cb_failed"]), f["cb_number"]
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].State == "failed") != (out[j].State == "failed") {
			return out[i].State == "failed"
		}
		return out[i].ArrivedAt.Before(out[j].ArrivedAt)
	})
	return out, nil
}

// DismissCallback forgets a failed callback a supervisor dealt with.
func (e *Engine) DismissCallback(ctx context.Context, callID string) error {
	ok, err := e.Store.DismissCallback(ctx, callID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: no failed callback %q", errNotWaiting, callID)
	}
	return nil
}

// RetryCallbackNow has a parked callback tried at once (within a second)
// instead of at its due time.
func (e *Engine) RetryCallbackNow(ctx context.Context, callID string) error {
	ok, err := e.Store.RetryCallbackNow(ctx, callID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: no parked callback %q", errNotWaiting, callID)
	}
	return nil
}
