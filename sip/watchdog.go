package sip

import (
	"sync"
	"time"

	"github.com/sc115/sc115/sip/media"
)

// endReason records why sc115 ended a leg itself ("" = the peer did).
type endReason struct {
	mu     sync.Mutex
	reason string
}

func (r *endReason) set(s string) {
	r.mu.Lock()
	if r.reason == "" {
		r.reason = s
	}
	r.mu.Unlock()
}

// EndReasonMediaTimeout is the reason of a leg ended because its RTP
// stopped or never started (see media.first_packet_timeout, idle_timeout).
const EndReasonMediaTimeout = "media-timeout"

func (r *endReason) get() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason
}

// watchMedia ends a leg whose RTP is silent past the media timeouts (a
// phone that died without BYE would otherwise hold the call and the agent
// forever), except while the leg is on hold. It checks once a second until
// the leg ends. firstRTP (if set) is called once its first packet came.
// It returns at once: the checks run on a timer, not on a goroutine of
// their own for every leg (issue 18: a goroutine's stack is memory each
// live call holds).
func (s *Server) watchMedia(sess *media.Session, ended <-chan struct{}, r *endReason, h *holdState, hangup func(), firstRTP func()) {
	w := &mediaWatch{s: s, sess: sess, ended: ended, r: r, h: h, hangup: hangup, firstRTP: firstRTP, start: time.Now()}
	w.mu.Lock()
	w.t = time.AfterFunc(time.Second, w.check)
	w.mu.Unlock()
}

// mediaWatch is one leg's media watchdog.
type mediaWatch struct {
	s        *Server
	sess     *media.Session
	ended    <-chan struct{}
	r        *endReason
	h        *holdState
	hangup   func()
	mu       sync.Mutex // guards t, grace and firstRTP (a check may overlap the next)
	t        *time.Timer
	firstRTP func()
	grace    time.Time // after a resume, give the phone time to send again
	start    time.Time // when the leg was answered: the first packet is due within first_packet_timeout
}

// check is one second's look at the leg; it sets the next unless the leg
// ended or timed out.
func (w *mediaWatch) check() {
	select {
	case <-w.ended:
		return
	default:
	}
	w.mu.Lock()
	now := time.Now()
	if w.firstRTP != nil && w.sess.Received() > 0 {
		w.firstRTP()
		w.firstRTP = nil
	}
	switch {
	case w.h.isHeld():
		w.grace = now.Add(w.s.media.IdleTimeout() + time.Second) // a held leg may rightly send nothing (a=inactive)
	case now.Before(w.grace):
	case w.s.media.Silent(w.sess, w.start, now):
		w.s.media.MediaTimeouts()
		ev := w.s.log.Warn().Str("local", w.sess.Local().String()).Uint64("received", w.sess.Received()).
			Str("kernel", w.sess.KernelState()).Dur("answered_for", now.Sub(w.start))
		if last := w.sess.LastReceived(); !last.IsZero() {
			ev = ev.Dur("silent_for", now.Sub(last))
		}
		ev.Msg("media timeout: no RTP; ending the leg")
		w.r.set(EndReasonMediaTimeout)
		w.mu.Unlock()
		w.hangup() // on the timer's own goroutine: the BYE may wait for its answer
		return
	}
	w.t.Reset(time.Second)
	w.mu.Unlock()
}
