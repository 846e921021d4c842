package simulate

import (
	"context"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/sc115/sc115/internal/testphone"
)

// registerExpires is the agents' registration lifetime; they refresh at
// half of it.
const registerExpires = 600

// agent is a virtual agent: its credentials and its dialog UA (its Contact
// on the agents' shared socket).
type agent struct {
	Agent
	dua *sipgo.DialogUA
}

// startAgents registers every agent from the agents' socket (a few at a
// time) and keeps the registrations fresh until ctx ends.
func (s *run) startAgents(ctx context.Context) error {
	s.agents = map[string]*agent{}
	for _, a := range s.cfg.Agents {
		s.agents[a.User] = &agent{Agent: a, dua: s.agentUA.dialogUA(a.User)}
	}
	s.agentUA.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) { s.offered(ctx, req, tx) })
	if err := s.registerAll(ctx); err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(registerExpires / 2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = s.registerAll(ctx)
			}
		}
	}()
	return nil
}

// registerAll registers all agents, eight REGISTERs in flight at a time,
// and returns the first failure.
func (s *run) registerAll(ctx context.Context) error {
	work := make(chan Agent)
	errs := make(chan error, len(s.cfg.Agents))
	var wg sync.WaitGroup
	for range min(8, len(s.cfg.Agents)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				errs <- s.agentUA.register(ctx, s.cfg.Target, a.User, a.Password, registerExpires)
			}
		}()
	}
	for _, a := range s.cfg.Agents {
		work <- a
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// offered is an INVITE to an agent: it rings for the ring delay, answers
// with PCMA on the agents' RTP socket, talks for a random time, hangs up
// and (with WrapupMean) ends its wrap-up early. The handler returns once
// the call is answered; the rest runs on timers, so an agent's call holds
// no goroutine of its own.
func (s *run) offered(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		// A re-INVITE (a session refresh): keep the call as it is.
		res := sip.NewResponseFromRequest(req, 200, "OK", testphone.SDP(s.agentMedia.addr, "8 PCMA/8000"))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		_ = tx.Respond(res)
		return
	}
	a := s.agents[req.Recipient.User]
	if a == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 404, "Not Found", nil))
		return
	}
	dss, err := a.dua.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	id := req.CallID().Value()
	s.agentUA.dialogs.Store(id, dss)
	st := s.agentMedia.newStream(agentFrame, callerFrame, 8)
	var talkTimer *time.Timer
	var mu sync.Mutex // guards talkTimer against the dialog's end
	context.AfterFunc(dss.Context(), func() {
		mu.Lock()
		if talkTimer != nil {
			talkTimer.Stop()
		}
		mu.Unlock()
		s.agentMedia.detach(st)
		s.agentUA.forget(id)
	})
	_ = dss.Respond(180, "Ringing", nil)
	select {
	case <-time.After(s.cfg.RingDelay):
	case <-dss.Context().Done(): // cancelled while ringing
		return
	}
	peer, _, err := testphone.ParseSDP(req.Body())
	if err != nil {
		_ = dss.Respond(488, "Not Acceptable Here", nil)
		return
	}
	s.agentMedia.attach(st, peer)
	if err := dss.RespondSDP(testphone.SDP(s.agentMedia.addr, "8 PCMA/8000")); err != nil {
		return
	}
	st.sending.Store(true)
	// At least minTalk (a caller must hear the agent to know it was
	// answered), the mean kept: minTalk + exponential, in whole frames.
	talk := (minTalk + s.exp(max(0, s.cfg.Talk-minTalk))).Truncate(frameInterval)
	mu.Lock()
	talkTimer = time.AfterFunc(talk, func() {
		st.sending.Store(false)
		s.count(func(r *Result) { r.Talks = append(r.Talks, talk) })
		bctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = dss.Bye(bctx)
		cancel()
		if s.cfg.WrapupMean > 0 {
			s.readyEarly(ctx, a, s.exp(s.cfg.WrapupMean))
		}
	})
	mu.Unlock()
}

// readyEarly ends the agent's wrap-up after w (if that is before sc115
// would end it) by dialing the ready feature code from its Contact.
func (s *run) readyEarly(ctx context.Context, a *agent, w time.Duration) {
	w = min(w, s.cfg.Wrapup)
	s.count(func(r *Result) { r.Wrapups = append(r.Wrapups, w) })
	if w >= s.cfg.Wrapup {
		return // sc115's own wrap-up ends first
	}
	code := s.cfg.ReadyCode
	if code == "" {
		code = "*44"
	}
	time.AfterFunc(w, func() {
		if ctx.Err() != nil {
			return
		}
		dcs, err := s.agentUA.invite(ctx, s.cfg.Target, a.User, code, testphone.SDP(s.agentMedia.addr, "8 PCMA/8000"), a.Password)
		if err != nil {
			return
		}
		defer s.agentUA.forget(dcs.InviteRequest.CallID().Value())
		_ = dcs.Ack(ctx)
		bctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = dcs.Bye(bctx) // the agent does not wait for the confirmation
	})
}
