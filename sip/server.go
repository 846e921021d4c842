package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sc115/sc115/sip/media"
)

// InboundHandler takes over an accepted inbound INVITE; it runs in the
// INVITE's goroutine and returns when the call is over.
type InboundHandler func(*InboundCall)

// FeatureHandler runs a feature code (e.g. *42) an agent dialed from its
// registered, authenticated phone and returns the confirmation prompt to
// play; an error whose prompt is empty means "no such code" (404).
type FeatureHandler func(agentID, dialed string) (prompt string, err error)

// leg is a dialog in the call table that in-dialog requests are routed to.
type leg interface {
	onBye(req *sip.Request, tx sip.ServerTransaction)
	onAck(req *sip.Request, tx sip.ServerTransaction)
	localSDP() []byte
	// reinvite answers an in-dialog offer (hold, resume, new address).
	reinvite(o *audioOffer) []byte
	// refreshSession restarts the leg's session timer (RFC 4028) and
	// returns the headers for the refresh's 2xx (none without a timer).
	refreshSession() []sip.Header
}

// Server is sc115's SIP endpoint: one UDP and one TCP listener on the same
// address, a registrar, the trunk side and the agent side of the B2BUA.
type Server struct {
	cfg      Config
	log      zerolog.Logger
	media    *media.Engine
	handler  InboundHandler
	features FeatureHandler
	consult  ConsultHandler
	reg      *registrar

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	dua    *sipgo.DialogUA
	tlsDUA *sipgo.DialogUA // dialogs over TLS (nil without sip.tls)
	addr   netip.AddrPort  // bound address (port resolved)

	udp     net.PacketConn
	tcp     net.Listener
	tlsLn   net.Listener   // nil without sip.tls
	tlsAddr netip.AddrPort // its bound address

	// inlineRegister: REGISTERs over UDP are answered on the read
	// goroutine (inlineregister.go), with parser.
	inlineRegister bool
	parser         *sip.Parser

	legs  sync.Map // Call-ID → leg; per-key access, no global lock
	m     *metrics
	quiet *quietLog
	adm   *admission
	// refusing says why new calls would be refused now (Options.Refusing).
	refusing func() string
}

// Options are the collaborators NewServer wires in.
type Options struct {
	Credentials map[string]Credential // by SIP user
	Presence    AgentPresence
	Media       *media.Engine
	Inbound     InboundHandler
	Features    FeatureHandler
	// Consult, if set, takes agents' consultation calls (attended
	// transfers); without it such INVITEs get 403 like any non-trunk one.
	Consult ConsultHandler
	// Bindings, if set, shares registrations between instances.
	Bindings BindingStore
	// Nonces, if set, shares digest nonce counts between instances.
	Nonces   NonceStore
	Instance string
	Log      zerolog.Logger
	// Registry, if set, gets the SIP server's security metrics.
	Registry prometheus.Registerer
	// Refusing, if set, says why new calls would be refused now ("" when
	// they are taken): OPTIONS then get 503, so a front proxy (Kamailio's
	// dispatcher) stops sending calls here.
	Refusing func() string
}

// NewServer binds UDP and TCP on cfg.Listen (port 0 picks a free port,
// the same for both) but does not serve yet.
func NewServer(cfg Config, o Options) (*Server, error) {
	s := &Server{cfg: cfg, log: o.Log, media: o.Media, handler: o.Inbound, features: o.Features, consult: o.Consult, m: newMetrics(o.Registry), quiet: newQuietLog(), refusing: o.Refusing}
	for _, t := range cfg.Trunks { // admission keeps them; a bad one is an error here, not skipped
		for _, a := range t.Allow {
			if _, err := netip.ParsePrefix(a); err != nil {
				return nil, fmt.Errorf("trunk %s: %w", t.Name, err)
			}
		}
	}
	if err := s.bind(cfg.Listen); err != nil {
		return nil, err
	}
	s.adm = newAdmission(cfg.Limits, cfg.Trunks, s.m)
	s.tcp = idleListener{Listener: s.tcp, idle: cfg.Limits.TCPIdleTimeout}
	if err := s.listenTLS(); err != nil {
		s.udp.Close()
		s.tcp.Close()
		return nil, err
	}
	s.reg = newRegistrar(cfg, o.Credentials, o.Presence, o.Log)
	s.reg.store, s.reg.instance, s.reg.nonceStore, s.reg.m = o.Bindings, o.Instance, o.Nonces, s.m
	s.reg.viaProxy = s.adm.isExempt
	s.reg.stateless = func(res *sip.Response) error { return s.writeUDPResponse(res, nil) }
	s.inlineRegister = o.Bindings == nil && o.Nonces == nil
	s.parser = sip.NewParser()
	host := s.addr.Addr().String()
	var err error
	s.ua, err = sipgo.NewUA(sipgo.WithUserAgent("sc115"), sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerReadFilter(s.readFilter)))
	if err != nil {
		return nil, err
	}
	s.srv, err = sipgo.NewServer(s.ua)
	if err != nil {
		return nil, err
	}
	// Requests leave from the listening socket: agents behind NAT and trunk
	// ACLs expect our listen port as source.
	s.client, err = sipgo.NewClient(s.ua, sipgo.WithClientHostname(host), sipgo.WithClientConnectionAddr(s.addr.String()))
	if err != nil {
		return nil, err
	}
	s.dua = &sipgo.DialogUA{Client: s.client, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "sc115", Host: host, Port: int(s.addr.Port())}}}
	if s.tlsLn != nil {
		// TLS dialogs need a client that does not pin the UDP/TCP listen
		// address as the local one: sipgo would then look for (and dial)
		// a connection from there instead of taking the phone's own.
		tlsClient, err := sipgo.NewClient(s.ua, sipgo.WithClientHostname(host))
		if err != nil {
			return nil, err
		}
		// In-dialog requests go back over the peer's connection, not to
		// its Contact: a phone on TLS rarely listens for connections.
		s.tlsDUA = &sipgo.DialogUA{Client: tlsClient, ContactHDR: *s.contactFor("tls"), RewriteContact: true}
	}
	s.srv.OnInvite(s.checked(s.onInvite))
	s.srv.OnAck(s.checked(s.onAck))
	s.srv.OnBye(s.checked(s.onBye))
	s.srv.OnRegister(s.checked(s.reg.handle))
	s.srv.OnOptions(s.checked(s.onOptions))
	s.srv.OnUpdate(s.checked(s.onUpdate))
	s.srv.OnRefer(s.checked(s.onRefer))
	return s, nil
}

func (s *Server) bind(listen string) error {
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		return fmt.Errorf("sip listen %q: %w", listen, err)
	}
	if ap.Addr().IsUnspecified() {
		return fmt.Errorf("sip listen %q: bind a concrete IP (it is advertised in Contact and SDP)", listen)
	}
	// Port 0 picks a free UDP port; the same TCP port may be taken (e.g. by
	// an outgoing connection), so try a few.
	tries := 1
	if ap.Port() == 0 {
		tries = 20
	}
	for i := 0; ; i++ {
		udp, err := net.ListenPacket("udp", listen)
		if err != nil {
			return fmt.Errorf("sip listen udp %s: %w", listen, err)
		}
		port := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(ap.Addr().String(), strconv.Itoa(port)))
		if err != nil {
			udp.Close()
			if i+1 < tries {
				continue
			}
			return fmt.Errorf("sip listen tcp %s: %w", listen, err)
		}
		s.udp, s.tcp = udp, tcp
		s.addr = netip.AddrPortFrom(ap.Addr(), uint16(port))
		return nil
	}
}

// Addr is the address SIP listens on (UDP and TCP).
func (s *Server) Addr() netip.AddrPort { return s.addr }

// Serve handles SIP until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 3)
	go func() { errc <- s.srv.ServeUDP(s.udp) }()
	go func() { errc <- s.srv.ServeTCP(s.tcp) }()
	if s.tlsLn != nil {
		go func() { errc <- s.srv.ServeTLS(s.tlsLn) }()
	}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.udp.Close()
			s.tcp.Close()
			if s.tlsLn != nil {
				s.tlsLn.Close()
			}
			_ = s.ua.Close()
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-t.C:
			s.reg.expire()
			s.reg.lock.sweep()
			s.reg.usedNC.sweep(time.Now())
			s.adm.sweep()
		}
	}
}

// WaitServing waits (up to a second) until Serve has put the UDP listener
// into sipgo's pool: until then a request sent from the listen address
// would try to bind it again and fail ("address already in use").
func (s *Server) WaitServing() bool {
	for i := 0; i < 200; i++ {
		if c, err := s.ua.TransportLayer().GetConnection("udp", s.addr.String()); err == nil && c != nil {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// BindingCount is the number of live bindings (devices) of a SIP user.
func (s *Server) BindingCount(user string) int { return len(s.reg.Bindings(user)) }

// Bindings are the SIP user's live bindings (devices), most recent first.
func (s *Server) Bindings(user string) []Binding { return s.reg.Bindings(user) }

// Registered reports whether the SIP user has a live binding.
func (s *Server) Registered(user string) bool { return len(s.reg.Bindings(user)) > 0 }

func (s *Server) fromTrunk(req *sip.Request) bool {
	return s.adm.trunkOf(sourceAddr(req.Source())) != ""
}

// onOptions answers keep-alives and pings from trunks, exempt proxies and
// addresses with a registered phone; anyone else (a scanner like svmap)
// gets no answer unless sip.limits.options_from_unknown says answer.
func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if s.cfg.Limits.OptionsFromUnknown != "answer" {
		src := sourceAddr(req.Source())
		if s.adm.trunkOf(src) == "" && !s.adm.isExempt(src) && !s.reg.knownSource(src) {
			s.m.limited.WithLabelValues("OPTIONS", "unknown_source").Inc()
			return
		}
	}
	// A trunk or front proxy probing learns that calls would be refused;
	// a phone's keep-alive is answered 200 whatever (its registration
	// stands).
	if src := sourceAddr(req.Source()); s.refusing != nil && (s.adm.trunkOf(src) != "" || s.adm.isExempt(src)) {
		if why := s.refusing(); why != "" {
			res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable", nil)
			res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(int(s.cfg.Limits.RetryAfter/time.Second))))
			res.AppendHeader(sip.NewHeader("Warning", `399 sc115 "`+why+`"`))
			_ = tx.Respond(res)
			return
		}
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, UPDATE, REFER"))
	res.AppendHeader(sip.NewHeader("Supported", "timer"))
	_ = tx.Respond(res)
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if l := s.inDialog(req, tx); l != nil {
		l.onAck(req, tx)
	}
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if l := s.inDialog(req, tx); l != nil {
		l.onBye(req, tx)
	}
}

func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		s.onReInvite(req, tx)
		return
	}
	log := s.log.With().Str("call_id", callID(req)).Str("src", req.Source()).Logger()
	// Feature codes (*41 …) come from agents' phones, which may sit in a
	// trunk's network too; they are digest-authenticated, trunk calls not.
	if strings.HasPrefix(req.Recipient.User, "*") && s.features != nil {
		s.onFeatureInvite(req, tx)
		return
	}
	if !s.fromTrunk(req) && s.consultFrom(req) || s.fromTrunk(req) && s.userConsults(req) {
		s.onConsultInvite(req, tx)
		return
	}
	if !s.fromTrunk(req) {
		log.Warn().Msg("INVITE from outside the trunk CIDRs: 403")
		respond(tx, req, sip.StatusForbidden, "Forbidden")
		return
	}
	src := sourceAddr(req.Source())
	if s.adm.trunkRequiresTLS(src) && sip.NetworkToLower(req.Transport()) != "tls" {
		log.Warn().Str("transport", req.Transport()).Msg("INVITE from a trunk that requires TLS over another transport: 403")
		respond(tx, req, sip.StatusForbidden, "TLS Required")
		return
	}
	offer, err := parseAudio(req.Body())
	if err != nil {
		log.Warn().Err(err).Msg("INVITE with unusable SDP: 488")
		respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	if offer.savp && len(offer.crypto) == 0 || s.adm.trunkRequiresTLS(src) && len(offer.crypto) == 0 {
		log.Warn().Msg("INVITE without a usable a=crypto where SRTP is needed: 488")
		respond(tx, req, sip.StatusNotAcceptableHere, "SRTP Required")
		return
	}
	if d, ok := requestedSessionExpires(req); ok && d < minSessionExpires {
		res := sip.NewResponseFromRequest(req, 422, "Session Interval Too Small", nil)
		res.AppendHeader(sip.NewHeader("Min-SE", strconv.Itoa(int(minSessionExpires/time.Second))))
		_ = tx.Respond(res)
		return
	}
	unconfirmed, release, limit := s.adm.takeCall(src, s.adm.trunkOf(src))
	if limit != "" {
		s.refuseLimited(req, tx, "INVITE", limit)
		return
	}
	defer release()
	s.serveInbound(req, tx, offer, "", func(c *InboundCall) {
		c.unconfirmed = unconfirmed
		s.handler(c)
	})
}

// serveInbound turns an accepted INVITE into an InboundCall in the call
// table (for its ACK, BYE and re-INVITEs), runs it, and cleans up.
// consultUser is the SIP user whose consultation call it is ("" for other
// calls).
func (s *Server) serveInbound(req *sip.Request, tx sip.ServerTransaction, offer *audioOffer, consultUser string, run func(*InboundCall)) {
	// The Call-ID is taken for the call's life: another INVITE reusing it
	// without To-tag is a loop or a forgery, never a second call. (A retry
	// after a digest challenge reuses it too, but never got this far.)
	id := callID(req)
	if _, taken := s.legs.LoadOrStore(id, reserved{}); taken {
		s.m.loops.Inc()
		if s.quiet.allow(req.Source() + " loop") {
			s.log.Warn().Str("call_id", id).Str("src", req.Source()).Msg("INVITE reuses the Call-ID of a live call: 482")
		}
		respond(tx, req, sip.StatusLoopDetected, "Loop Detected")
		return
	}
	defer s.legs.CompareAndDelete(id, reserved{})
	dss, err := s.duaFor(req.Transport()).ReadInvite(req, tx)
	if err != nil {
		s.log.Warn().Err(err).Str("call_id", callID(req)).Msg("INVITE rejected: 400")
		respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return
	}
	c := newInboundCall(s, req, dss, offer)
	c.consultUser = consultUser
	c.dialog.set(dss.ID, sourceAddr(req.Source()), req.CSeq().SeqNo)
	s.legs.Store(c.CallID(), c)
	defer s.legs.CompareAndDelete(c.CallID(), c)
	defer c.close()
	run(c)
}

// onReInvite answers an in-dialog INVITE: hold (sendonly, inactive,
// c=0.0.0.0) and resume (sendrecv), a new address or law; without SDP (a
// session refresh) the leg's current SDP.
func (s *Server) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	l := s.inDialog(req, tx)
	if l == nil {
		return
	}
	if l.localSDP() == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	body := l.localSDP()
	if len(req.Body()) > 0 {
		o, err := parseAudio(req.Body())
		if err != nil {
			s.log.Warn().Err(err).Str("call_id", callID(req)).Msg("re-INVITE with unusable SDP: 488")
			respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here")
			return
		}
		body = l.reinvite(o)
		s.log.Info().Str("call_id", callID(req)).Bool("held", o.held()).Msg("re-INVITE")
	}
	res := sip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(s.contactFor(req.Transport()))
	for _, h := range l.refreshSession() {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

// onUpdate takes a session refresh (RFC 4028 with UPDATE, RFC 3311)
// without SDP; an UPDATE with an offer is not supported (488: the peer
// uses a re-INVITE).
func (s *Server) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	l := s.inDialog(req, tx)
	if l == nil {
		return
	}
	if len(req.Body()) > 0 {
		respond(tx, req, sip.StatusNotAcceptableHere, "UPDATE With SDP Not Supported")
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	for _, h := range l.refreshSession() {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func callID(req *sip.Request) string {
	if id := req.CallID(); id != nil {
		return id.Value()
	}
	return ""
}

// ErrNotRegistered means the agent has no live binding to ring.
var ErrNotRegistered = errors.New("agent has no live registration")
