package sip

import "github.com/prometheus/client_golang/prometheus"

// metrics are the SIP server's security counters: what was refused and why.
type metrics struct {
	dialogRefused *prometheus.CounterVec // in-dialog requests that matched no dialog, peer or CSeq
	loops         prometheus.Counter     // INVITEs reusing a live Call-ID (482)
	authFailures  prometheus.Counter     // digest responses that did not verify
	replays       prometheus.Counter     // digest responses whose nonce count was used before
	lockouts      *prometheus.CounterVec // lockouts started, by scope
	limited       *prometheus.CounterVec // requests refused or dropped by admission limits, by method and limit
	malformed     prometheus.Counter     // datagrams refused before parsing (bad Content-Length, huge headers)
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		dialogRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_sip_in_dialog_refused_total",
			Help: "In-dialog requests refused: no such dialog (Call-ID and both tags), not from the dialog's peer or a trunk, CSeq out of order."}, []string{"method", "why"}),
		loops: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_sip_invite_loops_total",
			Help: "INVITEs without To-tag reusing the Call-ID of a live call, answered 482."}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_sip_auth_failures_total",
			Help: "Digest authentications that failed (wrong password, unknown user, wrong uri or algorithm)."}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_sip_auth_replays_total",
			Help: "Digest responses refused because their nonce and nonce count were used before (a replay)."}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_sip_lockouts_total",
			Help: "Lockouts started after failed digest attempts: source (one address guessing), source_user (one address guessing one user), user_daily (slow guessing: only known sources keep working)."}, []string{"scope"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_sip_limited_total",
			Help: "Requests refused (503) or dropped by admission limits."}, []string{"method", "limit"}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_sip_malformed_total",
			Help: "SIP datagrams refused before parsing: bad or too large Content-Length, headers over 16 KB (answered 400/513 where they can be)."}),
	}
	if reg != nil {
		reg.MustRegister(m.dialogRefused, m.loops, m.authFailures, m.replays, m.lockouts, m.limited, m.malformed)
	}
	return m
}
