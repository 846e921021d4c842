package sip

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Session timers (RFC 4028) on the caller's leg: when the trunk supports
// them, sc115 answers with Session-Expires and refresher=uac, and a call
// whose refresh (re-INVITE or UPDATE) does not come is ended before the
// interval is over — a dead PBX or a lost BYE cannot keep a held call
// (which sends no RTP) and its agent forever.
const (
	minSessionExpires     = 90 * time.Second   // Min-SE sc115 asks for (RFC 4028 §4: at least 90 s)
	defaultSessionExpires = 1800 * time.Second // when the trunk supports timers but names no interval
)

// requestedSessionExpires reads an INVITE's Session-Expires (or, with
// Supported: timer and none given, the default); ok is false when the
// peer does not do session timers.
func requestedSessionExpires(req *sip.Request) (time.Duration, bool) {
	h := req.GetHeader("Session-Expires")
	if h == nil {
		h = req.GetHeader("x") // compact form
	}
	if h == nil {
		return defaultSessionExpires, supportsTimer(req)
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs <= 0 || secs > 86400 {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

func supportsTimer(req *sip.Request) bool {
	for _, name := range []string{"Supported", "k"} {
		for _, h := range req.GetHeaders(name) {
			for _, opt := range strings.Split(h.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(opt), "timer") {
					return true
				}
			}
		}
	}
	return false
}

// sessionTimer ends a leg when its session is not refreshed in time.
type sessionTimer struct {
	mu       sync.Mutex
	interval time.Duration
	t        *time.Timer
}

// start arms the timer: expire runs if no refresh comes within the
// interval less a margin (RFC 4028 §10: the smaller of 32 s and a third).
func (st *sessionTimer) start(interval time.Duration, expire func()) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.interval = interval
	st.t = time.AfterFunc(interval-min(32*time.Second, interval/3), expire)
}

// refresh restarts the interval (a re-INVITE or UPDATE came); false if
// the leg has no session timer.
func (st *sessionTimer) refresh() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.t == nil {
		return false
	}
	st.t.Reset(st.interval - min(32*time.Second, st.interval/3))
	return true
}

// stop disarms it (the leg is over).
func (st *sessionTimer) stop() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.t != nil {
		st.t.Stop()
	}
}

// sessionExpiresHeaders are the 2xx headers that put a session timer in
// force with the caller's side refreshing.
func (st *sessionTimer) headers() []sip.Header {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.t == nil {
		return nil
	}
	return []sip.Header{sip.NewHeader("Session-Expires", strconv.Itoa(int(st.interval/time.Second))+";refresher=uac"), sip.NewHeader("Require", "timer")}
}
