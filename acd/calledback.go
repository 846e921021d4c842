package acd

import (
	"context"
	"time"
)

// Player is a leg sc115 can play prompts to besides the caller's: an
// agent's phone (the callback's "Rückruf …" notice) or a citizen called
// back. The SIP layer's legs implement it.
type Player interface {
	// PlayIntro plays the prompts once, then loops hold ("" = silence);
	// the channel is closed when the prompts have been sent in full.
	PlayIntro(prompts []string, hold string) <-chan struct{}
}

// calledBack is the citizen's leg of a callback as the caller's leg of
// the call: dialed out through the trunk (an AgentLeg of the SIP layer),
// it takes the caller's part in talk, transfers and hold.
type calledBack struct {
	out    AgentLeg
	id     string
	dialed string
	number string
}

// Leg is the citizen's call leg (the SIP layer bridges it).
func (l *calledBack) Leg() AgentLeg { return l.out }

// CallID is the call's id (the callback keeps the caller's).
func (l *calledBack) CallID() string { return l.id }

// DialedNumbers is the 115 number the caller once dialed.
func (l *calledBack) DialedNumbers() []string { return []string{l.dialed} }

// Caller is the number called back.
func (l *calledBack) Caller() (string, bool) { return l.number, false }

// Reject does nothing: the leg is answered.
func (l *calledBack) Reject(int, string) {}

// Refuse does nothing: the leg is answered.
func (l *calledBack) Refuse(time.Duration) {}

// Answer does nothing: the citizen answered.
func (l *calledBack) Answer(context.Context) error { return nil }

// Play plays prompts, then the hold track, to the citizen.
func (l *calledBack) Play(prompts []string, hold string) { l.PlayIntro(prompts, hold) }

// PlayIntro is Play with the end of the prompts.
func (l *calledBack) PlayIntro(prompts []string, hold string) <-chan struct{} {
	if p, ok := l.out.(Player); ok {
		return p.PlayIntro(prompts, hold)
	}
	done := make(chan struct{})
	close(done)
	return done
}

// PlayOnce plays prompts and returns when they are over or the citizen
// hung up.
func (l *calledBack) PlayOnce(prompts []string) {
	select {
	case <-l.PlayIntro(prompts, ""):
	case <-l.out.Ended():
	}
}

// Hangup ends the citizen's leg.
func (l *calledBack) Hangup() { l.out.Hangup() }

// Ended is closed when the citizen's leg is over.
func (l *calledBack) Ended() <-chan struct{} { return l.out.Ended() }

// EndReason says why sc115 ended the leg ("" when the citizen hung up).
func (l *calledBack) EndReason() string { return l.out.EndReason() }

// HoldTime is how long the citizen's phone held the call.
func (l *calledBack) HoldTime() time.Duration { return l.out.HoldTime() }

// DTMF delivers nothing: a called-back citizen is not in a menu.
func (l *calledBack) DTMF() <-chan rune { return nil }
