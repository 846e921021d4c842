package acd

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// The caller's side of a callback (virtual hold, issue 16): after its
// position announcement a waiting caller whose estimated wait is long
// hears "press 1 to be called back". The dialog confirms the number the
// network presented, or asks for one (always for a withheld number),
// reads it back digit by digit, and after the caller's confirmation
// books the callback in the store at the call's place and hangs up.
// Throughout the dialog the call stays in its queue: an agent reserved
// meanwhile ends the dialog and takes the call as usual.

// StateCallback: the caller hung up with a callback booked; the call
// lives on in the store (callback.go runs it when its turn comes).
const StateCallback CallState = "callback"

// callbackOffer is the offer to append to an announcement of ewt, if the
// caller may ask for a callback now (and notes that it was offered).
func (c *call) callbackOffer(ewt time.Duration) []string {
	cb := &c.e.cfg.Callback
	if !cb.Enabled || (!cb.OfferAlways && ewt <= cb.OfferAbove) {
		return nil
	}
	c.cbOffered = true
	return []string{promptCallbackOffer}
}

// dialogKey is one answer in the dialog: a key (0: none in time), or an
// agent reserved meanwhile, or the end of the call.
type dialogKey struct {
	key   rune
	agent string
	st    CallState
	done  bool
}

// ask plays prompts and waits for a key, pressed while they play or
// within the key timeout after.
func (c *call) ask(ctx context.Context, prompts []string) dialogKey {
	played := c.leg.PlayIntro(prompts, "")
	var timeout <-chan time.Time
	for {
		select {
		case <-played:
			played = nil
			t := time.NewTimer(c.e.cfg.Callback.KeyTimeout)
			defer t.Stop()
			timeout = t.C
		case <-timeout:
			return dialogKey{}
		case k := <-c.leg.DTMF():
			return dialogKey{key: k}
		case a := <-c.assign:
			return dialogKey{agent: a}
		case <-c.leg.Ended():
			return dialogKey{st: c.endUnanswered(), done: true}
		case <-c.e.stop:
			return dialogKey{st: c.endUnanswered(), done: true}
		case <-ctx.Done():
			return dialogKey{st: c.endUnanswered(), done: true}
		}
	}
}

// readNumber asks for a number and collects digits until '#' (or a
// pause of the key timeout after the last one): "" if none came.
func (c *call) readNumber(ctx context.Context) (string, dialogKey) {
	var digits strings.Builder
	prompts := []string{promptCallbackEnter}
	for digits.Len() < 20 {
		k := c.ask(ctx, prompts)
		prompts = nil // the prompt once; then keys only
		switch {
		case k.done || k.agent != "":
			return "", k
		case k.key == 0 || k.key == '#':
			return digits.String(), dialogKey{}
		case k.key >= '0' && k.key <= '9':
			digits.WriteRune(k.key)
		}
	}
	return digits.String(), dialogKey{}
}

// requestCallback runs the dialog. It returns an agent reserved for the
// call meanwhile (the call goes on as usual), or done with the final
// state (StateCallback: booked; the call ended here), or neither: the
// caller did not confirm and waits on, hearing hold audio again.
func (c *call) requestCallback(ctx context.Context) (agentID string, st CallState, done bool) {
	number, withheld := c.leg.Caller()
	national := ""
	if !withheld {
		national = nationalNumber(number, c.e.cfg.CountryCode)
	}
	c.log.Info().Msg("callback: the caller asked")
	for try := 0; try < 3; try++ {
		if !callbackNumberAllowed(national) {
			var k dialogKey
			if national, k = c.readNumber(ctx); k.done || k.agent != "" {
				return k.agent, k.st, k.done
			}
			if !callbackNumberAllowed(national) {
				c.log.Info().Int("digits", len(national)).Msg("callback: not a number we call back")
				national = ""
				if st, done := c.playFully(ctx, promptMenuInvalid); done {
					return "", st, true
				}
				continue
			}
		}
		prompts := append([]string{promptCallbackNumber}, digitPrompts(national)...)
		k := c.ask(ctx, append(prompts, promptCallbackConfirm))
		switch {
		case k.done || k.agent != "":
			return k.agent, k.st, k.done
		case k.key == '1':
			return c.bookCallback(ctx, national)
		case k.key == '2':
			national = ""
		}
	}
	c.log.Info().Msg("callback: not confirmed; the caller waits on")
	c.leg.Play(nil, c.hold)
	return "", "", false
}

// bookCallback turns the call into a callback at its place, thanks the
// caller and hangs up.
func (c *call) bookCallback(ctx context.Context, number string) (string, CallState, bool) {
	e := c.e
	now := e.now()
	ok, err := e.Store.RequestCallback(context.Background(), c.rec.CallID, map[string]string{
		"cb_number": number, "cb_requested": strconv.FormatInt(now.UnixMilli(), 10), "cb_attempts": "0",
		"priority": strconv.Itoa(c.priority), "queued_at": strconv.FormatInt(c.rec.QueuedAt.UnixMilli(), 10)})
	if err != nil {
		c.log.Error().Err(err).Msg("store: callback request")
		c.leg.Play([]string{promptMenuInvalid}, c.hold)
		return "", "", false
	}
	if !ok {
		// An agent was reserved for the call a moment ago: its assignment
		// is on its way; the caller talks to the agent instead.
		select {
		case a := <-c.assign:
			return a, "", false
		case <-c.leg.Ended():
			return "", c.endUnanswered(), true
		case <-time.After(5 * time.Second):
			c.leg.Play(nil, c.hold)
			return "", "", false
		}
	}
	c.log.Info().Msg("callback: booked; the call keeps its place")
	e.m.callbacks.WithLabelValues(c.muni.Key, "requested").Inc()
	c.playFully(ctx, promptCallbackThanks)
	c.leg.Hangup()
	return "", StateCallback, true
}

// nationalNumber is a presented number in national form ("+495136…" →
// "05136…"; another country's "+…" → "00…").
func nationalNumber(n, countryCode string) string {
	switch {
	case strings.HasPrefix(n, "+"+countryCode):
		return "0" + n[1+len(countryCode):]
	case strings.HasPrefix(n, "+"):
		return "00" + n[1:]
	}
	return n
}

// callbackNumberAllowed says whether sc115 calls a number back: a
// national number of 6–15 digits, not abroad and not at a premium,
// personal or shared-cost rate — a callback must not become a way to
// make the service center call expensive numbers.
func callbackNumberAllowed(n string) bool {
	if len(n) < 6 || len(n) > 15 || n[0] != '0' || strings.HasPrefix(n, "00") {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	for _, p := range []string{"0900", "0137", "0138", "0180", "0190", "0700", "0118"} {
		if strings.HasPrefix(n, p) {
			return false
		}
	}
	return true
}

// digitPrompts reads a number digit by digit.
func digitPrompts(n string) []string {
	out := make([]string, 0, len(n))
	for _, r := range n {
		if r == '0' {
			out = append(out, promptDigitZero)
		} else if r >= '1' && r <= '9' {
			out = append(out, numberPrompt(int(r-'0')))
		}
	}
	return out
}
