package sip

import (
	"context"
	"time"
)

// legOver is closed when a call leg is over: its dialog ended (a BYE
// either way, a CANCEL), or sc115 hung the leg up — whatever came back to
// that BYE (nothing, 408, 481). sipgo keeps a dialog whose BYE failed
// open, and a call must never wait on it forever (its agent would stay
// on-call, a queued dead call would be offered).
type legOver struct {
	ctx context.Context // done when the leg is over
	end context.CancelFunc
}

func newLegOver(dialog context.Context) *legOver {
	ctx, cancel := context.WithCancel(context.Background())
	o := &legOver{ctx: ctx, end: cancel}
	context.AfterFunc(dialog, o.end) // no goroutine until the dialog ends
	return o
}

// done is closed once the leg is over.
func (o *legOver) done() <-chan struct{} { return o.ctx.Done() }

// then runs f once the leg is over, on a goroutine started only then.
func (o *legOver) then(f func()) { context.AfterFunc(o.ctx, f) }

// byeTimeout is how long a hang-up waits for the peer's answer to its BYE
// before the leg is over anyway.
const byeTimeout = 5 * time.Second
