package sip

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/time/rate"
)

// admission applies sip.limits (issue 12, 6), Kamailio's pike and
// ratelimit modules being the model: token buckets per source address
// (golang.org/x/time/rate; sc115 writes no rate limiter of its own), a
// bound on each trunk's concurrent calls and on calls that never confirm.
// No global lock: the buckets live in a sync.Map per source, counters are
// atomic.
type admission struct {
	lim    Limits
	trunks []namedPrefix
	exempt []netip.Prefix
	m      *metrics

	sources sync.Map // netip.Addr → *sourceBuckets
	size    atomic.Int64

	calls       map[string]*atomic.Int64 // trunk name → concurrent calls (fixed at start)
	unconfirmed sync.Map                 // source netip.Addr → *atomic.Int64: calls whose ACK or first RTP is not there yet
	inFlight    sync.Map                 // source netip.Addr → *atomic.Int64: its requests being handled (not trunks, not exempt)
	now         func() time.Time
}

type namedPrefix struct {
	name       string
	prefix     netip.Prefix
	requireTLS bool
}

// sourceBuckets are one source address's buckets, by request class.
type sourceBuckets struct {
	byClass [classes]*rate.Limiter
	last    atomic.Int64 // unix ns of the last request (for the sweep)
}

// A request class has its own bucket per source.
type reqClass int

const (
	classTrunkInvite reqClass = iota
	classInvite
	classRegister
	classOptions
	classOther
	classes
)

var classNames = [classes]string{"INVITE", "INVITE", "REGISTER", "OPTIONS", "other"}

const (
	maxSources  = 100000          // source addresses tracked at once
	sourceIdle  = 2 * time.Minute // a source's buckets are forgotten after this
	burstWindow = 4               // seconds of rate a burst may take at once
)

func newAdmission(lim Limits, trunks []Trunk, m *metrics) *admission {
	a := &admission{lim: lim, m: m, calls: map[string]*atomic.Int64{}, now: time.Now}
	for _, t := range trunks {
		a.calls[t.Name] = new(atomic.Int64)
		for _, c := range t.Allow {
			if p, err := netip.ParsePrefix(c); err == nil {
				a.trunks = append(a.trunks, namedPrefix{t.Name, p.Masked(), t.RequireTLS})
			}
		}
	}
	for _, c := range lim.Exempt {
		if p, err := netip.ParsePrefix(c); err == nil {
			a.exempt = append(a.exempt, p.Masked())
		}
	}
	return a
}

// trunk is the trunk src belongs to (nil for none).
func (a *admission) trunk(src netip.Addr) *namedPrefix {
	for i := range a.trunks {
		if a.trunks[i].prefix.Contains(src) {
			return &a.trunks[i]
		}
	}
	return nil
}

// trunkOf names the trunk src belongs to ("" for none).
func (a *admission) trunkOf(src netip.Addr) string {
	if t := a.trunk(src); t != nil {
		return t.name
	}
	return ""
}

// trunkRequiresTLS reports whether the trunk src belongs to takes calls
// over TLS only.
func (a *admission) trunkRequiresTLS(src netip.Addr) bool {
	t := a.trunk(src)
	return t != nil && t.requireTLS
}

func (a *admission) isExempt(src netip.Addr) bool {
	for _, p := range a.exempt {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

func (a *admission) rateOf(c reqClass) float64 {
	switch c {
	case classTrunkInvite:
		return a.lim.TrunkInvitesPerSecond
	case classInvite:
		return a.lim.InvitesPerSecond
	case classRegister:
		return a.lim.RegistersPerSecond
	case classOptions:
		return a.lim.OptionsPerSecond
	}
	return a.lim.OthersPerSecond
}

// take spends a token of src's bucket for class c: false when it is empty,
// or when so many sources are tracked that a new one cannot be (a flood
// from spoofed addresses; trunks and exempt proxies are never affected).
func (a *admission) take(src netip.Addr, c reqClass) bool {
	now := a.now()
	v, ok := a.sources.Load(src)
	if !ok {
		if a.size.Load() >= maxSources {
			return false
		}
		nb := &sourceBuckets{}
		for c := range classes {
			r := a.rateOf(c)
			nb.byClass[c] = rate.NewLimiter(rate.Limit(r), max(1, int(r*burstWindow)))
		}
		var loaded bool
		if v, loaded = a.sources.LoadOrStore(src, nb); !loaded {
			a.size.Add(1)
		}
	}
	b := v.(*sourceBuckets)
	b.last.Store(now.UnixNano())
	return b.byClass[c].AllowN(now, 1)
}

// sweep forgets sources idle for sourceIdle.
func (a *admission) sweep() {
	cut := a.now().Add(-sourceIdle).UnixNano()
	a.sources.Range(func(k, v any) bool {
		if v.(*sourceBuckets).last.Load() < cut {
			a.sources.Delete(k)
			a.size.Add(-1)
		}
		return true
	})
	// A counter at 0 may go; a call taking it this very moment keeps
	// counting on the dropped one (and releases it), the next gets a new
	// one: at worst one source's bound is briefly a call too loose.
	for _, m := range []*sync.Map{&a.unconfirmed, &a.inFlight} {
		m.Range(func(k, v any) bool {
			if v.(*atomic.Int64).Load() == 0 {
				m.CompareAndDelete(k, v)
			}
			return true
		})
	}
}

// classOf sorts a request (by its method) into a bucket class, for a
// source that is no trunk.
func classOf(method string) reqClass {
	switch method {
	case "INVITE":
		return classInvite
	case "REGISTER":
		return classRegister
	case "OPTIONS":
		return classOptions
	}
	return classOther
}

// rateFilter decides for a UDP datagram before sipgo parses it: a request
// from a source that is no trunk nor exempt, beyond its rate, is dropped
// right here (over_limit: drop) — no parsing, no transaction, no
// goroutine. Responses always pass. TCP is limited in the handlers (a
// stream cannot lose a chunk).
func (a *admission) rateFilter(p sip.TransportReadProps, data []byte) bool {
	if a.lim.OverLimit != "drop" || sip.NetworkToLower(p.Transport) != "udp" {
		return true
	}
	ua, ok := p.RemoteAddr.(*net.UDPAddr)
	if !ok {
		return true
	}
	src := ua.AddrPort().Addr().Unmap()
	if a.trunkOf(src) != "" || a.isExempt(src) {
		return true
	}
	method := firstWord(data)
	if method == "SIP/2.0" {
		return true
	}
	c := classOf(method)
	if a.take(src, c) {
		return true
	}
	a.m.limited.WithLabelValues(classNames[c], "source_rate").Inc()
	return false
}

// firstWord is the request method (or "SIP/2.0" for a response).
func firstWord(b []byte) string {
	for i, c := range b {
		if c == ' ' || c == '\r' || c == '\n' || i == 16 {
			return string(b[:i])
		}
	}
	return ""
}

// admitRequest is the handlers' check (in the checked wrapper): new
// INVITEs from a trunk address against the trunk bucket (503), and — on
// TCP, or everything with over_limit: reject — requests from other
// sources against theirs (dropped, or 503). It answers the request
// itself when it refuses it.
func (s *Server) admitRequest(req *sip.Request, tx sip.ServerTransaction) bool {
	a := s.adm
	src := sourceAddr(req.Source())
	if a.isExempt(src) {
		return true
	}
	if a.trunkOf(src) != "" {
		if req.Method != sip.INVITE || req.To().Params.Has("tag") || a.take(src, classTrunkInvite) {
			return true
		}
		s.refuseLimited(req, tx, "INVITE", "trunk_source_rate")
		return false
	}
	if a.lim.OverLimit == "drop" && sip.NetworkToLower(req.Transport()) == "udp" {
		return true // the read filter did it
	}
	c := classOf(string(req.Method))
	if a.take(src, c) {
		return true
	}
	if a.lim.OverLimit == "reject" && req.Method != sip.ACK {
		s.refuseLimited(req, tx, classNames[c], "source_rate")
		return false
	}
	a.m.limited.WithLabelValues(classNames[c], "source_rate").Inc()
	return false
}

// refuseLimited answers 503 with Retry-After, counts and logs (once per
// source and minute).
func (s *Server) refuseLimited(req *sip.Request, tx sip.ServerTransaction, class, limit string) {
	s.m.limited.WithLabelValues(class, limit).Inc()
	if s.quiet.allow(sourceAddr(req.Source()).String() + " limit " + limit) {
		s.log.Warn().Str("src", req.Source()).Str("method", string(req.Method)).Str("limit", limit).Msg("request over a limit: 503")
	}
	res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(int(s.adm.lim.RetryAfter/time.Second))))
	if req.Method == sip.INVITE && sip.NetworkToLower(req.Transport()) == "udp" {
		// Statelessly: a flood never ACKs, and a transaction would repeat
		// each 503 for 32 s (timer H) with a timer per INVITE. A resent
		// INVITE is simply refused again.
		_ = s.srv.WriteResponse(res)
		tx.Terminate()
		return
	}
	_ = tx.Respond(res)
}

// takeCall admits a new call from src (of trunk) against the bound on
// unconfirmed calls per source — counted from the INVITE, so concurrent
// INVITEs cannot all slip under it, and per source, so one flooding
// address cannot starve another — and against the trunk's concurrency
// bound. It returns the call's unconfirmed token and the release to call
// when the call is over, or the limit that refused it.
func (a *admission) takeCall(src netip.Addr, trunk string) (u *unconfirmedCall, release func(), limit string) {
	v, _ := a.unconfirmed.LoadOrStore(src, new(atomic.Int64))
	count := v.(*atomic.Int64)
	if n := count.Add(1); n > int64(a.lim.MaxUnconfirmedCalls) {
		count.Add(-1)
		return nil, nil, "max_unconfirmed_calls"
	}
	u = &unconfirmedCall{count: count}
	n := a.calls[trunk]
	if n == nil {
		return u, u.confirmed, ""
	}
	if v := n.Add(1); a.lim.MaxCallsPerTrunk > 0 && v > int64(a.lim.MaxCallsPerTrunk) {
		n.Add(-1)
		u.confirmed()
		return nil, nil, "max_calls_per_trunk"
	}
	return u, func() { u.confirmed(); n.Add(-1) }, ""
}

// enter counts a request from src (no trunk, not exempt) into its
// in-flight handlers; ok false when max_in_flight_per_source are already
// running. leave must follow an ok enter.
func (a *admission) enter(src netip.Addr) (leave func(), ok bool) {
	v, _ := a.inFlight.LoadOrStore(src, new(atomic.Int64))
	n := v.(*atomic.Int64)
	if n.Add(1) > int64(a.lim.MaxInFlightPerSource) {
		n.Add(-1)
		return nil, false
	}
	return func() { n.Add(-1) }, true
}

// unconfirmedOf is how many calls from src are unconfirmed.
func (a *admission) unconfirmedOf(src netip.Addr) int64 {
	if v, ok := a.unconfirmed.Load(src); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// unconfirmedCall is a call counted as unconfirmed from its INVITE until
// its first RTP packet or its end, whichever comes first.
type unconfirmedCall struct {
	count *atomic.Int64
	once  sync.Once
}

// confirmed takes the call out of the count (idempotent; nil: not counted).
func (u *unconfirmedCall) confirmed() {
	if u != nil {
		u.once.Do(func() { u.count.Add(-1) })
	}
}
