package acd

import "context"

// GreetingMode is how a municipality's greeting meets its agents.
type GreetingMode string

// The greeting modes: complete calls are offered to an agent only once
// the greeting has been heard in full; interruptible ones at once (the
// agent cuts the greeting off).
const (
	GreetingComplete      GreetingMode = "complete"
	GreetingInterruptible GreetingMode = "interruptible"
)

// greetBeforeQueue is what happens before the call joins its queue. A
// complete greeting (and any greeting a menu follows) is heard in full
// first: the call joins the queue only when it is over, with its arrival
// as its place (the score orders by priority, then arrival), so it keeps
// the place it would have had from the start without an agent reserved
// and idle while the greeting plays. Then the menu, if any. It returns
// the greeting still to play (interruptible: all of it, under the
// announcements), or done with the final state if the call ended here.
func (c *call) greetBeforeQueue(ctx context.Context) (greeting []string, st CallState, done bool) {
	greeting = []string{c.greeting}
	if c.muni.GreetingMode != GreetingComplete && c.muni.Menu == nil {
		return greeting, "", false
	}
	if st, done := c.playFully(ctx, c.greeting); done {
		return nil, st, true
	}
	if c.muni.Menu != nil {
		if st, done := c.menu(ctx); done {
			return nil, st, true
		}
	}
	return nil, "", false
}
