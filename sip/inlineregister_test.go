package sip

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/internal/testphone"
	"github.com/sc115/sc115/queue"
)

// inlineServer is a SIP server on a free loopback port with agent 1003
// and no shared store: REGISTERs over UDP are answered on the read
// goroutine.
func inlineServer(t *testing.T) *Server {
	t.Helper()
	cfg := Defaults()
	cfg.Listen = "127.0.0.1:0"
	creds := map[string]Credential{"1003": {AgentID: "1003", HA1: HA1("1003", "sc115", "demo1003"), HA1SHA256: HA1SHA256("1003", "sc115", "demo1003")}}
	s, err := NewServer(cfg, Options{Credentials: creds, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if !s.inlineRegister {
		t.Fatal("a server without a shared store does not answer REGISTER inline")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if !s.WaitServing() {
		t.Fatal("the SIP server did not start")
	}
	return s
}

// TestRegisterAnsweredInline: a phone registers with digest over UDP —
// challenged, then 200 with its binding — and the answers come from the
// listening address, as a phone behind NAT needs them.
func TestRegisterAnsweredInline(t *testing.T) {
	s := inlineServer(t)
	ph, err := testphone.New("1003", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := ph.Register(ctx, s.Addr().String(), "demo1003", 300)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER: %v %v, want 200", res, err)
	}
	if c := res.GetHeader("Contact"); c == nil || !strings.Contains(c.Value(), "1003@") {
		t.Fatalf("200 without the phone's binding: Contact %v", c)
	}
	if len(s.reg.Bindings("1003")) != 1 {
		t.Fatalf("bindings %v, want the phone's one", s.reg.Bindings("1003"))
	}
}

// TestInlineRegisterRepliesToTheSource: the response to a REGISTER goes
// back to the address and port the datagram came from, with or without
// rport in its Via (as sipgo's own responses do: a phone behind NAT gets
// it through the mapping its request opened), never to a Via port the NAT
// does not forward.
func TestInlineRegisterRepliesToTheSource(t *testing.T) {
	s := inlineServer(t)
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	send, other := listen(), listen()
	register := func(viaPort int, rport string, branch string) {
		msg := fmt.Sprintf("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s%s\r\n"+
			"From: <sip:1003@127.0.0.1>;tag=t1\r\nTo: <sip:1003@127.0.0.1>\r\nCall-ID: inline-%s\r\nCSeq: 1 REGISTER\r\n"+
			"Contact: <sip:1003@127.0.0.1:%d>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", viaPort, branch, rport, branch, viaPort)
		if _, err := send.WriteToUDP([]byte(msg), net.UDPAddrFromAddrPort(s.Addr())); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(c *net.UDPConn, what string) {
		t.Helper()
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("%s: no response: %v", what, err)
		}
		if !strings.HasPrefix(string(buf[:n]), "SIP/2.0 401") || from.AddrPort() != s.Addr() {
			t.Fatalf("%s: %q from %v, want a 401 from %v", what, strings.SplitN(string(buf[:n]), "\r\n", 2)[0], from, s.Addr())
		}
	}
	register(other.LocalAddr().(*net.UDPAddr).Port, "", "a")
	expect(send, "Via naming another port, without rport")
	register(other.LocalAddr().(*net.UDPAddr).Port, ";rport", "b")
	expect(send, "with rport")
	_ = other.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := other.ReadFromUDP(make([]byte, 4096)); err == nil {
		t.Fatalf("a response (%d bytes) went to the Via's port", n)
	}
}

// TestRegisterThroughTheStoreNotInline: with a shared store the registrar
// makes round trips, which must not hold up the socket's read goroutine.
func TestRegisterThroughTheStoreNotInline(t *testing.T) {
	cfg := Defaults()
	cfg.Listen = "127.0.0.1:0"
	s, err := NewServer(cfg, Options{Bindings: &countingBindings{saved: map[string][]queue.StoredBinding{}}, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.tcp.Close()
	defer s.udp.Close()
	if s.inlineRegister {
		t.Fatal("REGISTER is answered on the read goroutine though the registrar uses a shared store")
	}
}
