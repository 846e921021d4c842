package simulate

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo"

	"github.com/sc115/sc115/internal/testphone"
)

// call is one caller, its one goroutine: dial from the callers' socket,
// stream RTP from the callers' RTP socket (the pacer sends it), wait for
// an agent's voice — or give up after patience — and talk until the call
// ends. n numbers the caller (its presented number).
func (s *run) call(ctx context.Context, n int, patience time.Duration) {
	s.count(func(r *Result) { r.Offered++ })
	s.live.Add(1)
	defer s.live.Add(-1)
	st := s.callerMedia.newStream(callerFrame, agentFrame, 8)
	start := time.Now()
	user := fmt.Sprintf("+4951361%05d", n%100000)
	dcs, err := s.callerUA.invite(ctx, s.cfg.Target, user, s.cfg.Dialed, testphone.SDP(s.callerMedia.addr, "8 PCMA/8000"), "")
	if err != nil {
		s.count(func(r *Result) { r.Failed++ })
		return
	}
	defer s.callerUA.forget(dcs.InviteRequest.CallID().Value())
	answered := time.Now()
	s.count(func(r *Result) { r.Setups = append(r.Setups, answered.Sub(start)) })
	peer, _, err := testphone.ParseSDP(dcs.InviteResponse.Body())
	if err != nil {
		_ = dcs.Ack(ctx)
		hangup(dcs)
		s.count(func(r *Result) { r.Failed++ })
		return
	}
	s.callerMedia.attach(st, peer)
	defer s.callerMedia.detach(st)
	st.sending.Store(true) // 20 ms frames: the caller's side of the stream
	if err := dcs.Ack(ctx); err != nil {
		hangup(dcs)
		s.count(func(r *Result) { r.Failed++ })
		return
	}
	s.waiting.Add(1)
	var giveUp <-chan time.Time
	if patience > 0 && patience < 24*time.Hour {
		t := time.NewTimer(patience)
		defer t.Stop()
		giveUp = t.C
	}
	select {
	case <-st.heard:
		s.waiting.Add(-1)
		w := time.Since(answered)
		s.count(func(r *Result) {
			r.Answered++
			r.Waits = append(r.Waits, w)
			if w <= s.cfg.Threshold {
				r.AnsweredWithin++
			}
		})
	case <-dcs.Context().Done(): // sc115 ended it before an agent spoke
		s.waiting.Add(-1)
		s.count(func(r *Result) { r.Failed++ })
		return
	case <-giveUp:
		s.waiting.Add(-1)
		s.count(func(r *Result) { r.Abandoned++ })
		hangup(dcs)
		return
	case <-ctx.Done():
		s.waiting.Add(-1)
		hangup(dcs)
		return
	}
	select {
	case <-dcs.Context().Done(): // the agent hung up; sc115 sent BYE
	case <-ctx.Done():
		hangup(dcs)
	}
}

// hangup sends BYE, waiting a bounded time for its answer.
func hangup(dcs *sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = dcs.Bye(ctx)
}
