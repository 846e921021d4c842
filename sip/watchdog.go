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
func (s *Server) watchMedia(sess *media.Session, ended <-chan struct{}, r *endReason, h *holdState, hangup func(), firstRTP func()) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var grace time.Time // after a resume, give the phone time to send again
	for {
		select {
		case <-ended:
			return
		case now := <-t.C:
			if firstRTP != nil && sess.Received() > 0 {
				firstRTP()
				firstRTP = nil
			}
			if h.isHeld() {
				grace = now.Add(s.media.IdleTimeout() + time.Second)
				continue // a held leg may rightly send nothing (a=inactive)
			}
			if now.Before(grace) {
				continue
			}
			if s.media.Silent(sess, now) {
				s.media.MediaTimeouts()
				s.log.Warn().Str("local", sess.Local().String()).Msg("media timeout: no RTP; ending the leg")
				r.set(EndReasonMediaTimeout)
				hangup()
				return
			}
		}
	}
}
