package sip

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// registerInline answers a REGISTER over UDP on the goroutine that read
// it, before sipgo's transaction layer: no goroutine of its own (whose
// stack starts small and grows for every request), no server transaction
// made and torn down at once (the registrar answers UDP REGISTERs
// statelessly anyway), the response written straight to the socket. It
// does so only where the registrar needs no round trip to a shared store
// (the embedded store: bindings and nonce counts in its memory), since a
// store's latency here would hold up every other message on the socket.
// It reports whether it took the datagram.
func (s *Server) registerInline(p sip.TransportReadProps, data []byte) bool {
	if !s.inlineRegister || !bytes.HasPrefix(data, []byte("REGISTER ")) {
		return false
	}
	if ua, ok := p.LocalAddr.(*net.UDPAddr); !ok || ua.AddrPort().Addr().Unmap() != s.addr.Addr() || ua.AddrPort().Port() != s.addr.Port() {
		return false // came in on another socket (one sipgo dialled): its answer must leave there
	}
	msg, err := s.parser.ParseSIP(data)
	if err != nil {
		return false // sipgo's path logs it
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return false
	}
	req.SetTransport("UDP")
	req.SetSource(p.RemoteAddr.String())
	s.checked(s.reg.handle)(req, &statelessTx{s: s, from: p.RemoteAddr})
	return true
}

// statelessTx stands for the transaction a REGISTER answered inline does
// not have: a response goes straight out of the listening socket (see
// writeUDPResponse).
type statelessTx struct {
	s    *Server
	from net.Addr
}

func (t *statelessTx) Respond(res *sip.Response) error { return t.s.writeUDPResponse(res, t.from) }

// writeUDPResponse sends res out of the UDP listener to its destination —
// for a response sipgo built from a request, the address and port the
// request came from (symmetric routing, so a phone behind NAT gets it) —
// or to fallback where that is no IP address and port: never a name to
// resolve on the read goroutine.
func (s *Server) writeUDPResponse(res *sip.Response, fallback net.Addr) error {
	to := fallback
	if ap, err := netip.ParseAddrPort(res.Destination()); err == nil {
		to = net.UDPAddrFromAddrPort(ap)
	}
	if to == nil {
		return errNoDestination
	}
	buf := responseBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	res.StringWrite(buf)
	_, err := s.udp.WriteTo(buf.Bytes(), to)
	responseBuffers.Put(buf)
	return err
}

// responseBuffers hold a rendered response until it is sent: rendering
// into a reused buffer spares the string a response's String builds (and
// grows several times) and its copy into bytes for the socket.
var responseBuffers = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 1024)) }}

// errNoDestination: a response with neither an address in its Via nor a
// packet source to go back to.
var errNoDestination = errors.New("sip: response has no address to go to")

func (t *statelessTx) Acks() <-chan *sip.Request          { return nil }
func (t *statelessTx) OnCancel(sip.FnTxCancel) bool       { return false }
func (t *statelessTx) Terminate()                         {}
func (t *statelessTx) OnTerminate(sip.FnTxTerminate) bool { return false }
func (t *statelessTx) Err() error                         { return nil }

// Done is closed: there is nothing to wait for.
func (t *statelessTx) Done() <-chan struct{} { return closedDone }

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
