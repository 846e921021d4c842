package testphone

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Phone is a SIP user agent on its own loopback port.
type Phone struct {
	User   string
	Addr   string // host:port it listens on (UDP; over TLS its IP and a nominal port)
	tls    bool   // signalling over TLS (NewTLS): requests leave over a TLS connection
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	dua    *sipgo.DialogUA
	cancel context.CancelFunc

	mu       sync.Mutex
	incoming chan *Incoming
	legs     map[string]*Incoming
	calls    map[string]*Call
	answer   AnswerFunc
	lastAuth string
	// Password, if set, answers digest challenges to the phone's INVITEs.
	Password string
	// SRTP makes the phone's own calls offer RTP/SAVP with an SDES key;
	// offers with a=crypto it answers that way whatever SRTP says.
	SRTP bool
	// Offers receives every INVITE the phone gets, with a channel closed
	// when that offer's dialog ends (answered-and-hung-up or cancelled).
	Offers chan Offered
}

// Offered is an INVITE the phone received.
type Offered struct {
	Req   *sip.Request
	Ended <-chan struct{}
}

// AnswerFunc decides how the agent phone answers an offer: the SIP code
// (200 to answer) and the formats to answer with, after an optional delay.
type AnswerFunc func(req *sip.Request) (code int, delay time.Duration, formats []string)

// Incoming is a call the phone received.
type Incoming struct {
	Req *sip.Request
	RTP *RTP
	dss *sipgo.DialogServerSession
	// Notifies are the bodies of the NOTIFYs sc115 sends within the call
	// (after a REFER: "SIP/2.0 100 Trying", then the final status).
	Notifies chan string
}

// Ended is closed when the incoming dialog ends.
func (in *Incoming) Ended() <-chan struct{} { return in.dss.Context().Done() }

// Bye hangs up an answered incoming call.
func (in *Incoming) Bye(ctx context.Context) error { return in.dss.Bye(ctx) }

// New starts a phone listening on ip (port chosen by the OS).
func New(user, ip string) (*Phone, error) {
	ln, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return nil, err
	}
	addr := ln.LocalAddr().String()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(user), sipgo.WithUserAgentHostname(ip))
	if err != nil {
		return nil, err
	}
	srv, _ := sipgo.NewServer(ua)
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname(ip), sipgo.WithClientConnectionAddr(addr))
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	ph := &Phone{User: user, Addr: addr, ua: ua, srv: srv, client: client, incoming: make(chan *Incoming, 8), legs: map[string]*Incoming{}, calls: map[string]*Call{}, Offers: make(chan Offered, 16),
		dua: &sipgo.DialogUA{Client: client, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: ip, Port: p}}}}
	ph.handle()
	ctx, cancel := context.WithCancel(context.Background())
	ph.cancel = cancel
	go func() { _ = srv.ServeUDP(ln) }()
	// Requests leave from the listening socket once sipgo has pooled it.
	for i := 0; i < 200; i++ {
		if c, err := ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	go func() { <-ctx.Done(); ln.Close() }()
	return ph, nil
}

// NewTLS starts a phone on ip whose signalling goes over TLS to servers
// with a certificate from roots: it listens on no port; sc115 reaches it
// over the connection its REGISTER opened.
func NewTLS(user, ip string, roots *x509.CertPool) (*Phone, error) {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(user), sipgo.WithUserAgentHostname(ip),
		sipgo.WithUserAgenTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}))
	if err != nil {
		return nil, err
	}
	srv, _ := sipgo.NewServer(ua)
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname(ip))
	if err != nil {
		return nil, err
	}
	contact := sip.Uri{Scheme: "sip", User: user, Host: ip, Port: 5061, UriParams: sip.NewParams()}
	contact.UriParams.Add("transport", "tls")
	ph := &Phone{User: user, Addr: net.JoinHostPort(ip, "5061"), tls: true, ua: ua, srv: srv, client: client, incoming: make(chan *Incoming, 8), legs: map[string]*Incoming{},
		calls: map[string]*Call{}, Offers: make(chan Offered, 16), dua: &sipgo.DialogUA{Client: client, ContactHDR: sip.ContactHeader{Address: contact}}}
	ph.handle()
	_, ph.cancel = context.WithCancel(context.Background())
	return ph, nil
}

// transport sets req to go over TLS for a TLS phone.
func (p *Phone) transport(req *sip.Request) {
	if p.tls {
		req.SetTransport("TLS")
	}
}

// handle routes the requests the phone gets.
func (p *Phone) handle() {
	p.srv.OnInvite(p.onInvite)
	p.srv.OnNotify(p.onNotify)
	p.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		if in := p.leg(req); in != nil {
			_ = in.dss.ReadAck(req, tx)
		}
	})
	p.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if in := p.leg(req); in != nil {
			_ = in.dss.ReadBye(req, tx)
			return
		}
		p.mu.Lock()
		c := p.calls[req.CallID().Value()]
		p.mu.Unlock()
		if c != nil {
			_ = c.dcs.ReadBye(req, tx)
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "No Dialog", nil))
	})
}

// Close stops the phone.
func (p *Phone) Close() {
	p.cancel()
	_ = p.ua.Close()
}

func (p *Phone) leg(req *sip.Request) *Incoming {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.legs[req.CallID().Value()]
}

// Register registers at registrar (host:port) with digest credentials and
// returns the final response.
func (p *Phone) Register(ctx context.Context, registrar, password string, expires int) (*sip.Response, error) {
	uri := sip.Uri{Scheme: "sip", User: p.User, Host: hostOf(registrar), Port: portOf(registrar)}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: hostOf(registrar), Port: portOf(registrar)})
	req.AppendHeader(&sip.ToHeader{Address: uri, Params: sip.NewParams()})
	from := &sip.FromHeader{Address: uri, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(sip.HeaderClone(&p.dua.ContactHDR))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	p.transport(req)
	res, err := p.client.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 401 {
		return res, nil
	}
	res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.User, Password: password})
	p.mu.Lock()
	if h := req.GetHeader("Authorization"); h != nil {
		p.lastAuth = h.Value()
	}
	if err == nil && res.IsSuccess() && p.Password == "" {
		p.Password = password // a registered phone answers its calls' challenges with the same password
	}
	p.mu.Unlock()
	return res, err
}

// LastAuthorization is the Authorization header of the last REGISTER.
func (p *Phone) LastAuthorization() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastAuth
}

// Do sends a request out of dialog (e.g. OPTIONS) and returns the final response.
func (p *Phone) Do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	return p.client.Do(ctx, req)
}

// OnOffer sets how the phone answers INVITEs (default: 200 with PCMU).
func (p *Phone) OnOffer(f AnswerFunc) {
	p.mu.Lock()
	p.answer = f
	p.mu.Unlock()
}

// NextIncoming waits for the next answered incoming call.
func (p *Phone) NextIncoming(ctx context.Context) (*Incoming, error) {
	select {
	case in := <-p.incoming:
		return in, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no incoming call: %w", ctx.Err())
	}
}

func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	dss, err := p.dua.ReadInvite(req, tx)
	if err != nil {
		return
	}
	select {
	case p.Offers <- Offered{Req: req, Ended: dss.Context().Done()}:
	default:
	}
	p.mu.Lock()
	answer := p.answer
	p.mu.Unlock()
	code, delay, formats := 200, time.Duration(0), []string{"0 PCMU/8000"}
	if answer != nil {
		code, delay, formats = answer(req)
	}
	_ = dss.Respond(180, "Ringing", nil)
	select {
	case <-time.After(delay):
	case <-dss.Context().Done(): // cancelled while ringing
		return
	}
	if code != 200 {
		_ = dss.Respond(code, "Declined", nil)
		return
	}
	r, err := NewRTP()
	if err != nil {
		_ = dss.Respond(500, "No RTP", nil)
		return
	}
	if addr, _, err := ParseSDP(req.Body()); err == nil {
		r.SetPeer(addr)
	}
	body := SDP(r.Addr(), formats...)
	if _, theirs, ok := ParseCrypto(req.Body()); ok {
		ours := NewSDESKey()
		if err := r.SetSRTP(ours, theirs); err != nil {
			_ = dss.Respond(488, "Bad Key", nil)
			return
		}
		body = WithCrypto(body, ours)
	}
	in := &Incoming{Req: req, RTP: r, dss: dss, Notifies: make(chan string, 8)}
	p.mu.Lock()
	p.legs[req.CallID().Value()] = in
	p.mu.Unlock()
	go func() { <-dss.Context().Done(); r.Close() }()
	if err := dss.RespondSDP(body); err != nil {
		return
	}
	p.incoming <- in
}

// Call is an outgoing call from the phone.
type Call struct {
	RTP       *RTP
	Res       *sip.Response
	dcs       *sipgo.DialogClientSession
	CallID    string
	p         *Phone
	reinvites int
}

// Ended is closed when the call's dialog ends.
func (c *Call) Ended() <-chan struct{} { return c.dcs.Context().Done() }

// ReInvite sends an in-dialog INVITE offering PCMA with direction dir
// (sendonly to hold, sendrecv to resume), ACKs the answer and returns it.
func (c *Call) ReInvite(ctx context.Context, dir string) (*sip.Response, error) {
	c.reinvites++
	inv, res := c.dcs.InviteRequest, c.dcs.InviteResponse
	target := res.Contact().Address
	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(res.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	seq := inv.CSeq().SeqNo + uint32(c.reinvites)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: sip.INVITE})
	req.AppendHeader(sip.HeaderClone(inv.Contact()))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	body := strings.Replace(string(SDP(c.RTP.Addr(), "8 PCMA/8000")), "a=sendrecv", "a="+dir, 1)
	req.SetBody([]byte(body))
	ans, err := c.p.client.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	ack := sip.NewRequest(sip.ACK, target)
	ack.AppendHeader(sip.HeaderClone(inv.From()))
	ack.AppendHeader(sip.HeaderClone(ans.To()))
	ack.AppendHeader(sip.HeaderClone(inv.CallID()))
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: sip.ACK})
	return ans, c.p.client.WriteRequest(ack)
}

// Bye hangs up.
func (c *Call) Bye(ctx context.Context) error { return c.dcs.Bye(ctx) }

// Update sends an in-dialog UPDATE without SDP (an RFC 4028 session
// refresh) and returns the answer.
func (c *Call) Update(ctx context.Context) (*sip.Response, error) {
	req := sip.NewRequest(sip.UPDATE, c.dcs.InviteResponse.Contact().Address)
	c.p.transport(req)
	return c.dcs.Do(ctx, req)
}

// Dial calls number at target (host:port) offering formats ("8 PCMA/8000";
// none: PCMA, PCMU and telephone-event); headers are added to the INVITE.
// It returns the call once answered, or the final error response as
// *sipgo.ErrDialogResponse.
func (p *Phone) Dial(ctx context.Context, target, number string, formats []string, headers ...sip.Header) (*Call, error) {
	if len(formats) == 0 {
		formats = []string{"8 PCMA/8000", "0 PCMU/8000", "101 telephone-event/8000"}
	}
	return p.dial(ctx, target, number, func(r *RTP) []byte { return SDP(r.Addr(), formats...) }, headers)
}

// DialRaw is Dial with a body as given (for malformed offers).
func (p *Phone) DialRaw(ctx context.Context, target, number string, body []byte, headers ...sip.Header) (*Call, error) {
	return p.dial(ctx, target, number, func(*RTP) []byte { return body }, headers)
}

func (p *Phone) dial(ctx context.Context, target, number string, mkBody func(*RTP) []byte, headers []sip.Header) (*Call, error) {
	r, err := NewRTP()
	if err != nil {
		return nil, err
	}
	body := mkBody(r)
	var ours []byte
	if p.SRTP {
		ours = NewSDESKey()
		body = WithCrypto(body, ours)
	}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: number, Host: hostOf(target), Port: portOf(target)})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.User, Host: hostOf(p.Addr)}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	for _, h := range headers {
		req.AppendHeader(h)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	p.transport(req)
	dcs, err := p.dua.WriteInvite(ctx, req)
	if err != nil {
		r.Close()
		return nil, err
	}
	c := &Call{RTP: r, dcs: dcs, CallID: req.CallID().Value(), p: p}
	p.mu.Lock()
	p.calls[c.CallID] = c
	p.mu.Unlock()
	p.mu.Lock()
	opts := sipgo.AnswerOptions{Username: p.User, Password: p.Password}
	p.mu.Unlock()
	if err := dcs.WaitAnswer(ctx, opts); err != nil {
		r.Close()
		return nil, err
	}
	c.Res = dcs.InviteResponse
	if addr, _, err := ParseSDP(c.Res.Body()); err == nil {
		r.SetPeer(addr)
	}
	if ours != nil {
		_, theirs, ok := ParseCrypto(c.Res.Body())
		if !ok {
			r.Close()
			return nil, fmt.Errorf("SRTP offer answered without a=crypto: %s", c.Res.Body())
		}
		if err := r.SetSRTP(ours, theirs); err != nil {
			return nil, err
		}
	}
	if err := dcs.Ack(ctx); err != nil {
		return nil, err
	}
	go func() { <-dcs.Context().Done(); time.Sleep(100 * time.Millisecond); r.Close() }()
	return c, nil
}

func hostOf(hp string) string { h, _, _ := net.SplitHostPort(hp); return h }
func portOf(hp string) int {
	_, p, _ := net.SplitHostPort(hp)
	n, _ := strconv.Atoi(p)
	return n
}
