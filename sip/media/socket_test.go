package media

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestUDPSocketSendsAndReceivesWithoutBlocking: a datagram sent to the
// socket is read back with its source; an empty socket says so at once
// instead of blocking; a closed socket refuses use and closes only once.
func TestUDPSocketSendsAndReceivesWithoutBlocking(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "::1"} {
		t.Run(ip, func(t *testing.T) {
			addr := netip.MustParseAddr(ip)
			u, err := listenUDPSocket(addr, 0, 64<<10)
			if err != nil {
				t.Skipf("no %s here: %v", ip, err)
			}
			// Port 0 bound a free port; find it the way the kernel says.
			peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			buf := make([]byte, 1500)
			if _, _, err := u.readFrom(buf); !errors.Is(err, errWouldBlock) {
				t.Fatalf("empty socket: %v, want errWouldBlock", err)
			}
			dst := newSockaddr(peer.LocalAddr().(*net.UDPAddr).AddrPort(), u.local)
			if err := u.writeTo([]byte("hello"), dst); err != nil {
				t.Fatal(err)
			}
			_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, from, err := peer.ReadFromUDPAddrPort(buf)
			if err != nil || string(buf[:n]) != "hello" {
				t.Fatalf("peer got %q, %v", buf[:n], err)
			}
			if _, err := peer.WriteToUDPAddrPort([]byte("back"), from); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Second)
			for {
				n, src, err := u.readFrom(buf)
				if err == nil {
					if string(buf[:n]) != "back" || src != peer.LocalAddr().(*net.UDPAddr).AddrPort() {
						t.Fatalf("read %q from %v", buf[:n], src)
					}
					break
				}
				if !errors.Is(err, errWouldBlock) || time.Now().After(deadline) {
					t.Fatalf("read: %v", err)
				}
				time.Sleep(time.Millisecond)
			}
			u.close()
			u.close()
			if _, _, err := u.readFrom(buf); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("read after close: %v", err)
			}
			if err := u.writeTo([]byte("x"), dst); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("send after close: %v", err)
			}
		})
	}
}

// TestSessionsClosedUnderTrafficReuseNothing: legs are closed and new ones
// opened while packets keep arriving: each new leg (often on a descriptor
// number just freed) receives and relays its own packets, no packet is
// counted on a leg it was not sent to, and nothing panics.
func TestSessionsClosedUnderTrafficReuseNothing(t *testing.T) {
	e := testEngine(t)
	src, sink := newPeer(t), newPeer(t)
	stop, done := make(chan struct{}), make(chan struct{})
	// The blaster stops before the peers close (cleanups run last first),
	// however the test ends: a send on a closed socket would fail it late.
	t.Cleanup(func() { close(stop); <-done })
	// Unbuffered: once the blaster took a target it sends nowhere else, so
	// a port freed at the end of a round (and maybe handed to the next
	// round's other leg) gets nothing more from it.
	targets := make(chan netip.AddrPort)
	go func() { // a caller blasting at whichever leg is current
		defer close(done)
		var to netip.AddrPort
		for {
			select {
			case <-stop:
				return
			case to = <-targets:
			default:
			}
			if to.IsValid() {
				src.send(t, to, 8, 42, make([]byte, 160))
			} else {
				select { // idle until the next target
				case <-stop:
					return
				case to = <-targets:
				}
			}
		}
	}()
	for round := 0; round < 50; round++ {
		a, err := e.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		a.SetParams(Params{Remote: src.addr(), Codec: PCMA, PT: 8})
		b.SetParams(Params{Remote: sink.addr(), Codec: PCMA, PT: 8})
		Bridge(a, b)
		targets <- a.Local()
		for deadline := time.Now().Add(20 * time.Second); a.Received() == 0 || b.Sent() == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the new leg (port %d) got %d packets and relayed %d", round, a.Local().Port(), a.Received(), b.Sent())
			}
		}
		targets <- netip.AddrPort{} // the blaster stops sending to a's port before it is freed
		a.Close()
		b.Close()
		if b.Received() != 0 {
			t.Fatalf("round %d: the agent leg received %d packets meant for the caller leg", round, b.Received())
		}
	}
}
