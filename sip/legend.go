package sip

import (
	"context"
	"sync"
	"time"
)

// legOver is closed when a call leg is over: its dialog ended (a BYE
// either way, a CANCEL), or sc115 hung the leg up — whatever came back to
// that BYE (nothing, 408, 481). sipgo keeps a dialog whose BYE failed
// open, and a call must never wait on it forever (its agent would stay
// on-call, a queued dead call would be offered).
type legOver struct {
	ch   chan struct{}
	once sync.Once
}

func newLegOver(dialog context.Context) *legOver {
	o := &legOver{ch: make(chan struct{})}
	context.AfterFunc(dialog, o.end) // no goroutine until the dialog ends
	return o
}

// end marks the leg over (idempotent).
func (o *legOver) end() { o.once.Do(func() { close(o.ch) }) }

// done is closed once the leg is over.
func (o *legOver) done() <-chan struct{} { return o.ch }

// byeTimeout is how long a hang-up waits for the peer's answer to its BYE
// before the leg is over anyway.
const byeTimeout = 5 * time.Second
