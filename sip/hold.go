package sip

import (
	"net/netip"
	"sync"
	"time"

	"github.com/sc115/sc115/sip/media"
)

// holdState tracks a leg put on hold by its phone with re-INVITEs, and
// for how long in total (the CDR's hold_ms).
type holdState struct {
	mu    sync.Mutex
	held  bool
	since time.Time
	total time.Duration
}

func (h *holdState) set(held bool, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case held && !h.held:
		h.held, h.since = true, now
	case !held && h.held:
		h.held = false
		h.total += now.Sub(h.since)
	}
}

func (h *holdState) isHeld() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

func (h *holdState) duration(now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held {
		return h.total + now.Sub(h.since)
	}
	return h.total
}

// reanswer answers a re-INVITE's offer on an established leg: the same
// law if still offered (else the offer's first), the peer's new address,
// and the direction that answers its hold or resume; sending stops while
// the peer holds.
// On an SRTP leg (ours: sc115's SDES line) the answer keeps the keys.
func reanswer(sess *media.Session, local netip.AddrPort, o *audioOffer, h *holdState, ours *sdesCrypto) []byte {
	cur := sess.Params()
	c := o.formats[0]
	for _, f := range o.formats {
		if f == cur.Codec {
			c = f
		}
	}
	p := o.params(c)
	p.Source = cur.Source // the dialog's peer
	if o.remote.Addr().IsUnspecified() {
		p.Remote = cur.Remote // RFC 2543 hold: keep where we sent before
	}
	sess.SetParams(p)
	held := o.held()
	sess.SetMuted(held)
	h.set(held, time.Now())
	return buildSDP(local, []media.Codec{c}, o.pts, o.dtmfPT, answerDir(o.dir), ours)
}
