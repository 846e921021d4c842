package sip

import (
	"context"

	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sc115/sc115/queue"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
)

// Credential is what the registrar knows of one SIP user: hashes only.
type Credential struct {
	AgentID   string
	HA1       string // MD5(user:realm:password), hex
	HA1SHA256 string // SHA-256(user:realm:password), hex (RFC 8760); empty: MD5 only
	// RequireTLS: this user's phone must register (and dial feature
	// codes) over SIP over TLS; other transports get 403 after the digest.
	RequireTLS bool
}

// BindingStore keeps bindings where every instance can read them (package
// queue implements it on Redis). Optional: without it bindings are local.
type BindingStore interface {
	SaveBindings(ctx context.Context, user string, bs []queue.StoredBinding) error
	LoadBindings(ctx context.Context, user string) ([]queue.StoredBinding, error)
}

// NonceStore shares digest nonce counts between instances (package queue
// implements it on Redis). Optional: without it they are checked locally.
type NonceStore interface {
	UseNonce(ctx context.Context, nonce string, nc int, ttl time.Duration) (bool, error)
}

// AgentPresence is told when an agent's device gains its first live
// registration or loses its last one.
type AgentPresence interface {
	AgentRegistered(agentID string)
	AgentUnregistered(agentID string)
}

// Binding is one registered device of a user.
type Binding struct {
	Contact   sip.Uri
	Source    string // host:port the REGISTER came from (reach NATed phones there)
	Transport string
	Expires   time.Time
	Updated   time.Time
	// contactKey is Contact as a string, kept with a binding made here:
	// every refresh compares the phone's Contact with each binding's.
	contactKey string
}

// key is the binding's Contact as a string, the identity of a binding.
func (b *Binding) key() string {
	if b.contactKey == "" {
		return b.Contact.String()
	}
	return b.contactKey
}

// target is where requests to this binding go. When the Contact's host is
// not the address the REGISTER came from, the phone sits behind NAT and is
// reached where it registered from; otherwise its Contact is trusted (a
// phone may register for another of its own ports).
func (b Binding) target() string {
	if strings.EqualFold(b.Transport, "tls") {
		return b.Source // the phone's own connection: phones rarely listen for TLS
	}
	host, _, err := net.SplitHostPort(b.Source)
	if err != nil || host == b.Contact.Host {
		port := b.Contact.Port
		if port == 0 {
			port = 5060
		}
		return net.JoinHostPort(b.Contact.Host, strconv.Itoa(port))
	}
	return b.Source
}

// registrar authenticates REGISTERs with digest (qop=auth; MD5 and/or
// SHA-256 as sip.digest_algorithms offers) and keeps the bindings in
// memory, mirrored into the shared store so every instance can ring every
// agent. A REGISTER is not on the call path, so one RWMutex is enough here.
type registrar struct {
	cfg      Config
	creds    map[string]Credential
	nonces   *nonces
	lock     *lockout
	presence AgentPresence
	log      zerolog.Logger
	now      func() time.Time

	store      BindingStore
	nonceStore NonceStore
	usedNC     *nonceCounts
	instance   string
	m          *metrics
	quiet      *quietLog

	// viaProxy says whether a source is a SIP proxy in front
	// (sip.limits.exempt): its requests' lockouts count the phone's own
	// address, from the Via that proxy checked (clientIP).
	viaProxy func(netip.Addr) bool

	// stateless sends a response without a transaction (the server's
	// transport); nil: every response goes through its transaction.
	stateless func(*sip.Response) error

	mu       sync.RWMutex
	bindings map[string][]Binding // by SIP user: this instance's registrations
}

func newRegistrar(cfg Config, creds map[string]Credential, presence AgentPresence, log zerolog.Logger) *registrar {
	return &registrar{cfg: cfg, creds: creds, nonces: newNonces(cfg.NonceKey, cfg.NonceTTL), presence: presence, log: log,
		now: time.Now, bindings: map[string][]Binding{}, usedNC: newNonceCounts(), quiet: newQuietLog(), m: newMetrics(nil),
		lock: newLockout(cfg.LockoutFailures, cfg.LockoutSourceFailures, cfg.LockoutDailyFailures, cfg.LockoutWindow, cfg.LockoutTime)}
}

func (r *registrar) challenge(req *sip.Request, tx sip.ServerTransaction, stale bool) {
	res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
	for _, h := range challengeHeaders(r.cfg.Realm, r.nonces.issue(), stale, r.cfg.DigestAlgorithms) {
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", h))
	}
	r.reply(tx, req, res)
}

// authenticate checks a REGISTER's digest for the To user; see authenticateAs.
func (r *registrar) authenticate(req *sip.Request, tx sip.ServerTransaction) (string, Credential, bool) {
	to := req.To()
	if to == nil {
		r.respond(tx, req, sip.StatusBadRequest, "Missing To")
		return "", Credential{}, false
	}
	return r.authenticateAs(req, tx, to.Address.User)
}

// authenticateAs answers the request itself (401 challenge, 403, 400)
// unless it carries a good, fresh digest for user; then it returns the
// credential. Locked-out attempts are challenged like any other and get
// the same 403 as a wrong password, so answers never tell whether a user
// exists or is locked. Failures count toward the lockout.
func (r *registrar) authenticateAs(req *sip.Request, tx sip.ServerTransaction, user string) (string, Credential, bool) {
	h := req.GetHeader("Authorization")
	if h == nil {
		r.challenge(req, tx, false)
		return "", Credential{}, false
	}
	cred, err := parseCredentials(h.Value())
	if err != nil {
		r.log.Warn().Str("src", req.Source()).Str("user", user).Str("method", string(req.Method)).Msg("digest: malformed Authorization")
		r.respond(tx, req, sip.StatusBadRequest, "Malformed Authorization")
		return "", Credential{}, false
	}
	switch r.nonces.check(cred.Nonce) {
	case errNonceStale:
		r.challenge(req, tx, true)
		return "", Credential{}, false
	case errNonceInvalid:
		r.challenge(req, tx, false)
		return "", Credential{}, false
	}
	src := r.clientIP(req)
	if r.lock.isLocked(src, user) {
		if r.quiet.allow(src + " locked " + user) {
			r.log.Warn().Str("src", src).Str("user", user).Str("method", string(req.Method)).Msg("digest: refused, locked out after failed attempts")
		}
		r.respond(tx, req, sip.StatusForbidden, "Forbidden")
		return "", Credential{}, false
	}
	c, known := r.creds[cred.Username]
	if problem := digestProblem(cred, c, known, user, r.cfg.Realm, r.cfg.DigestAlgorithms, string(req.Method), req.Recipient); problem != "" {
		_, knownUser := r.creds[user]
		r.m.authFailures.Inc()
		for _, scope := range r.lock.fail(src, user, knownUser) {
			r.m.lockouts.WithLabelValues(string(scope)).Inc()
			ev := r.log.Warn()
			if scope == scopeUserDaily {
				ev = r.log.Error() // an alert: someone guesses this user's password slowly
			}
			ev.Str("src", src).Str("user", user).Str("scope", string(scope)).Dur("lockout", r.cfg.LockoutTime).
				Msg(lockoutMessage[scope])
		}
		if r.quiet.allow(src + " authfail " + user) {
			r.log.Warn().Str("src", req.Source()).Str("user", cred.Username).Str("algorithm", cred.Algorithm).Str("method", string(req.Method)).
				Str("why", problem).Msg("digest: authentication failed")
		}
		r.respond(tx, req, sip.StatusForbidden, "Forbidden")
		return "", Credential{}, false
	}
	if !r.useNonce(cred.Nonce, cred.Nc) {
		r.m.replays.Inc()
		r.log.Warn().Str("src", req.Source()).Str("user", user).Str("method", string(req.Method)).Int("nc", cred.Nc).
			Msg("digest: nonce count used before (a replayed request): challenged anew")
		r.challenge(req, tx, true)
		return "", Credential{}, false
	}
	r.lock.success(src, user)
	if c.RequireTLS && sip.NetworkToLower(req.Transport()) != "tls" {
		r.log.Warn().Str("src", req.Source()).Str("user", user).Str("transport", req.Transport()).Msg("user must use TLS: 403")
		r.respond(tx, req, sip.StatusForbidden, "TLS Required")
		return "", Credential{}, false
	}
	return user, c, true
}

var lockoutMessage = map[lockScope]string{
	scopeSourceUser: "digest: this source is locked out for this user after failed attempts",
	scopeSource:     "digest: this source is locked out after failed attempts for several users (sources that logged a user in before keep working for it)",
	scopeUserDaily:  "ALERT digest: too many failed attempts for this user today (slow guessing?): only sources that logged it in before are admitted until one does again",
}

// useNonce takes a verified response's nonce count, here and, with a
// shared store, on every instance (a response captured on the way to one
// instance must not work at another). A store error falls back to this
// instance's memory: registering must not stop with the store.
func (r *registrar) useNonce(nonce string, nc int) bool {
	if !r.usedNC.use(nonce, nc, r.now(), r.cfg.NonceTTL) {
		return false
	}
	if r.nonceStore == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	fresh, err := r.nonceStore.UseNonce(ctx, nonce, nc, r.cfg.NonceTTL)
	if err != nil {
		if r.quiet.allow("nonce store") {
			r.log.Error().Err(err).Msg("store: digest nonce counts unavailable; checked on this instance only")
		}
		return true
	}
	return fresh
}

// handle processes a REGISTER: add, refresh, remove or list bindings.
func (r *registrar) handle(req *sip.Request, tx sip.ServerTransaction) {
	user, cred, ok := r.authenticate(req, tx)
	if !ok {
		return
	}
	defaultExp := -1
	if e := req.GetHeader("Expires"); e != nil {
		if v, err := strconv.Atoi(e.Value()); err == nil {
			defaultExp = v
		}
	}
	now := r.now()
	type change struct {
		uri     sip.Uri
		expires int
	}
	var changes []change
	wildcard := false
	for _, h := range req.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		if ch.Address.Wildcard {
			wildcard = true
			continue
		}
		exp := defaultExp
		if v, ok := ch.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				exp = n
			}
		}
		if exp < 0 {
			exp = int(r.cfg.MaxExpires / time.Second)
		}
		if exp > 0 && exp < int(r.cfg.MinExpires/time.Second) {
			res := sip.NewResponseFromRequest(req, sip.StatusIntervalToBrief, "Interval Too Brief", nil)
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(r.cfg.MinExpires/time.Second))))
			r.reply(tx, req, res)
			return
		}
		exp = min(exp, int(r.cfg.MaxExpires/time.Second))
		changes = append(changes, change{uri: ch.Address, expires: exp})
	}
	if wildcard && (defaultExp != 0 || len(changes) > 0) {
		r.respond(tx, req, sip.StatusBadRequest, "Wildcard Contact needs Expires: 0 and no other Contact")
		return
	}

	r.mu.Lock()
	before := r.liveCount(user, now)
	list := r.bindings[user]
	if wildcard {
		list = nil
	}
	for _, c := range changes {
		key := c.uri.String()
		kept := list[:0]
		for _, b := range list {
			if b.key() != key {
				kept = append(kept, b)
			}
		}
		list = kept
		if c.expires > 0 {
			list = append(list, Binding{Contact: c.uri, Source: req.Source(), Transport: req.Transport(),
				Expires: now.Add(time.Duration(c.expires) * time.Second), Updated: now, contactKey: key})
		}
	}
	// At most max_bindings_per_user devices: the least recently refreshed
	// go first (a phone that rebooted onto new ports leaves stale ones,
	// which must not lock out its next registration).
	if n := r.cfg.Limits.MaxBindingsPerUser; n > 0 && len(list) > n {
		sort.SliceStable(list, func(i, j int) bool { return list[i].Updated.After(list[j].Updated) })
		list = list[:n]
	}
	r.bindings[user] = list
	current := r.live(user, now)
	r.mu.Unlock()
	r.save(user, current)

	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	for _, b := range current {
		c := &sip.ContactHeader{Address: b.Contact, Params: sip.NewParams()}
		c.Params.Add("expires", strconv.Itoa(int(b.Expires.Sub(now)/time.Second)))
		res.AppendHeader(c)
	}
	r.reply(tx, req, res)
	ev := r.log.Debug() // a refresh: phones send one every few minutes, and thousands of them
	if len(current) != before {
		ev = r.log.Info() // a device came or went
	}
	ev.Str("user", user).Str("agent", cred.AgentID).Str("src", req.Source()).Str("transport", req.Transport()).Int("bindings", len(current)).Msg("register")
	r.notify(cred.AgentID, before, len(current))
}

func (r *registrar) notify(agentID string, before, after int) {
	if r.presence == nil {
		return
	}
	switch {
	case before == 0 && after > 0:
		r.presence.AgentRegistered(agentID)
	case before > 0 && after == 0:
		r.presence.AgentUnregistered(agentID)
	}
}

// live returns the unexpired bindings of user (caller holds mu).
func (r *registrar) live(user string, now time.Time) []Binding {
	var out []Binding
	for _, b := range r.bindings[user] {
		if b.Expires.After(now) {
			out = append(out, b)
		}
	}
	return out
}

// liveCount is how many unexpired bindings user has (caller holds mu).
func (r *registrar) liveCount(user string, now time.Time) int {
	n := 0
	for _, b := range r.bindings[user] {
		if b.Expires.After(now) {
			n++
		}
	}
	return n
}

// Bindings returns the user's live bindings, most recently refreshed
// first: this instance's, or else those another instance stored.
func (r *registrar) Bindings(user string) []Binding {
	r.mu.RLock()
	out := r.live(user, r.now())
	r.mu.RUnlock()
	if len(out) == 0 && r.store != nil {
		out = r.load(user)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Updated.After(out[j].Updated) })
	return out
}

// registeredFrom says whether user, one of the configured SIP users, has
// a live registration from src. Every call from a trunk asks this of its
// caller's number, which is never an agent's SIP user: that must not cost
// a store round trip (with a real Redis it was one per call, and under an
// INVITE flood one per INVITE).
func (r *registrar) registeredFrom(user string, src netip.Addr) bool {
	if _, agent := r.creds[user]; !agent {
		return false
	}
	for _, b := range r.Bindings(user) {
		if sourceAddr(b.Source) == src {
			return true
		}
	}
	return false
}

// save mirrors a user's bindings on this instance into the store.
func (r *registrar) save(user string, bs []Binding) {
	if r.store == nil {
		return
	}
	out := make([]queue.StoredBinding, 0, len(bs))
	for _, b := range bs {
		out = append(out, queue.StoredBinding{Contact: b.key(), Source: b.Source, Transport: b.Transport, Instance: r.instance, Expires: b.Expires})
	}
	if err := r.store.SaveBindings(context.Background(), user, out); err != nil {
		r.log.Error().Err(err).Str("user", user).Msg("store: save bindings")
	}
}

// knownSource reports whether a phone with a live binding on this
// instance registered from src.
func (r *registrar) knownSource(src netip.Addr) bool {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, list := range r.bindings {
		for _, b := range list {
			if b.Expires.After(now) && sourceAddr(b.Source) == src {
				return true
			}
		}
	}
	return false
}

// load reads bindings another instance stored.
func (r *registrar) load(user string) []Binding {
	sbs, err := r.store.LoadBindings(context.Background(), user)
	if err != nil {
		r.log.Error().Err(err).Str("user", user).Msg("store: load bindings")
		return nil
	}
	var out []Binding
	for _, sb := range sbs {
		var u sip.Uri
		if err := sip.ParseUri(sb.Contact, &u); err != nil {
			continue
		}
		out = append(out, Binding{Contact: u, Source: sb.Source, Transport: sb.Transport, Expires: sb.Expires, Updated: sb.Expires})
	}
	return out
}

// expire drops expired bindings and reports agents whose last one went.
func (r *registrar) expire() {
	now := r.now()
	var gone []string
	r.mu.Lock()
	for user, list := range r.bindings {
		live := r.live(user, now)
		if len(list) > 0 && len(live) == 0 {
			gone = append(gone, user)
		}
		if len(live) == 0 {
			delete(r.bindings, user)
		} else {
			r.bindings[user] = live
		}
	}
	r.mu.Unlock()
	for _, u := range gone {
		r.save(u, nil)
		if c, ok := r.creds[u]; ok && r.presence != nil {
			r.log.Info().Str("user", u).Str("agent", c.AgentID).Msg("registration expired")
			r.presence.AgentUnregistered(c.AgentID)
		}
	}
}

// clientIP is the address a login attempt comes from, without port: the
// request's source, or, when that is a proxy in front (sip.limits.exempt,
// e.g. deploy/kamailio), the phone's address as the proxy saw it — the
// received parameter (else the host) of the Via below the proxy's own,
// which the proxy sets from the packet (force_rport). So a guesser behind
// the proxy locks out itself, not every phone that registers through it.
// From any other source the Vias are not read: nobody else can claim an
// address this way.
func (r *registrar) clientIP(req *sip.Request) string {
	host, _, err := net.SplitHostPort(req.Source())
	if err != nil {
		host = req.Source()
	}
	src, err := netip.ParseAddr(host)
	if err != nil || r.viaProxy == nil || !r.viaProxy(src.Unmap()) {
		return host
	}
	vias := req.GetHeaders("Via")
	if len(vias) < 2 {
		return host
	}
	v, ok := vias[1].(*sip.ViaHeader)
	if !ok {
		return host
	}
	if rcv, ok := v.Params.Get("received"); ok {
		if a, err := netip.ParseAddr(rcv); err == nil {
			return a.String()
		}
	}
	if a, err := netip.ParseAddr(v.Host); err == nil {
		return a.String()
	}
	return host
}

// reply answers a request the registrar handles. A REGISTER over UDP is
// answered statelessly, as Kamailio's registrar does (sl_send_reply): a
// transaction would be kept for 32 s (timer J) with its timer and both
// messages, for every REGISTER and every challenge, only to absorb
// retransmissions — the bulk of a registration's cost under load. A
// retransmitted REGISTER is simply handled again: challenged anew, or, if
// it carried a nonce count already used, challenged stale, and the phone
// answers that with the next count.
func (r *registrar) reply(tx sip.ServerTransaction, req *sip.Request, res *sip.Response) {
	if r.stateless != nil && req.Method == sip.REGISTER && sip.NetworkToLower(req.Transport()) == "udp" {
		if r.stateless(res) == nil {
			tx.Terminate()
			return
		}
	}
	_ = tx.Respond(res)
}

// respond replies with a bare status (see reply).
func (r *registrar) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	r.reply(tx, req, sip.NewResponseFromRequest(req, code, reason, nil))
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
}
