package simulate

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// userAgent is one SIP socket on loopback shared by many parties: all the
// callers (they are one trunk), or all the agents (each registers its own
// AOR with a Contact on this one socket, which SIP allows: sc115 reaches
// an agent by its Contact's user). In-dialog requests find their call by
// Call-ID.
type userAgent struct {
	addr   string // host:port
	ip     string
	port   int
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	ln     net.PacketConn

	dialogs sync.Map // Call-ID → *sipgo.DialogClientSession | *sipgo.DialogServerSession
}

// newUserAgent listens on 127.0.0.1 (a port the OS chooses) as name.
func newUserAgent(name string) (*userAgent, error) {
	const ip = "127.0.0.1"
	ln, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return nil, err
	}
	addr := ln.LocalAddr().String()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(name), sipgo.WithUserAgentHostname(ip))
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv, _ := sipgo.NewServer(ua)
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname(ip), sipgo.WithClientConnectionAddr(addr))
	if err != nil {
		ln.Close()
		return nil, err
	}
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	u := &userAgent{addr: addr, ip: ip, port: port, ua: ua, srv: srv, client: client, ln: ln}
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		if d, ok := u.dialogs.Load(req.CallID().Value()); ok {
			if dss, ok := d.(*sipgo.DialogServerSession); ok {
				_ = dss.ReadAck(req, tx)
			}
		}
	})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		d, _ := u.dialogs.Load(req.CallID().Value())
		switch d := d.(type) {
		case *sipgo.DialogServerSession:
			_ = d.ReadBye(req, tx)
		case *sipgo.DialogClientSession:
			_ = d.ReadBye(req, tx)
		default:
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		}
	})
	go func() { _ = srv.ServeUDP(ln) }()
	// Requests leave from the listening socket once sipgo has pooled it
	// (so a REGISTER's source is the Contact's port).
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			break
		}
		if time.Now().After(deadline) {
			_ = ua.Close()
			ln.Close()
			return nil, fmt.Errorf("simulate: the SIP socket %s never became usable", addr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return u, nil
}

// dialogUA is a DialogUA whose Contact is user at this socket.
func (u *userAgent) dialogUA(user string) *sipgo.DialogUA {
	return &sipgo.DialogUA{Client: u.client, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: u.ip, Port: u.port}}}
}

// register registers user's Contact on this socket at registrar with
// digest credentials.
func (u *userAgent) register(ctx context.Context, registrar, user, password string, expires int) error {
	host, p, _ := net.SplitHostPort(registrar)
	port, _ := strconv.Atoi(p)
	aor := sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host, Port: port})
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	contact := u.dialogUA(user).ContactHDR
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	res, err := u.client.Do(ctx, req)
	if err == nil && res.StatusCode == 401 {
		res, err = u.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
	}
	if err != nil {
		return fmt.Errorf("simulate: agent %s could not register: %w", user, err)
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("simulate: agent %s could not register: %d %s", user, res.StatusCode, res.Reason)
	}
	return nil
}

// invite sends an INVITE from user to number at target offering body, and
// waits for the answer (digest answered with password, if any). The
// dialog is known to the socket's BYE handler until forgotten.
func (u *userAgent) invite(ctx context.Context, target, user, number string, body []byte, password string) (*sipgo.DialogClientSession, error) {
	host, p, _ := net.SplitHostPort(target)
	port, _ := strconv.Atoi(p)
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: number, Host: host, Port: port})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: u.ip}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	contact := u.dialogUA(user).ContactHDR
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	dcs, err := u.dialogUA(user).WriteInvite(ctx, req)
	if err != nil {
		return nil, err
	}
	id := req.CallID().Value()
	u.dialogs.Store(id, dcs)
	if err := dcs.WaitAnswer(ctx, sipgo.AnswerOptions{Username: user, Password: password}); err != nil {
		u.dialogs.Delete(id)
		return nil, err
	}
	return dcs, nil
}

// forget drops a dialog from the BYE handler's table.
func (u *userAgent) forget(callID string) { u.dialogs.Delete(callID) }

// close stops the socket.
func (u *userAgent) close() { _ = u.ua.Close(); _ = u.ln.Close() }
