package kernel

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// openForTest loads the forwarder on loopback, skipping where the kernel or
// the process may not (not root, no tcx), failing instead when
// SC115_INTEROP=required (CI runs as root on a kernel with tcx).
func openForTest(t *testing.T) *Forwarder {
	t.Helper()
	f, err := Open(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		if os.Getenv("SC115_INTEROP") == "required" {
			t.Fatalf("%v, and SC115_INTEROP=required", err)
		}
		t.Skipf("%v (needs root or CAP_BPF+CAP_NET_ADMIN and Linux ≥ 6.6); set SC115_INTEROP=required to make this a failure", err)
	}
	t.Cleanup(f.Close)
	return f
}

func udp(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ap(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func rtpPacket(marker bool, pt uint8, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	b := make([]byte, 12, 12+len(payload))
	b[0] = 0x80
	b[1] = pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return append(b, payload...)
}

// readFrom returns the next datagram on c and its source, or fails.
func readFrom(t *testing.T, c *net.UDPConn) ([]byte, netip.AddrPort) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 1500)
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		t.Fatalf("nothing arrived on %s: %v", ap(c), err)
	}
	return b[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

// TestForwardRewritesAsTheRelay: a caller's packet to leg A leaves leg B
// for the agent with B's SSRC, the shifted sequence number and timestamp,
// the mapped payload type, the marker kept and the payload untouched;
// what the route does not describe reaches leg A's socket unchanged.
func TestForwardRewritesAsTheRelay(t *testing.T) {
	f := openForTest(t)
	caller, legA, legB, agent, stranger := udp(t), udp(t), udp(t), udp(t), udp(t)
	fl := Flow{Local: ap(legA), Remote: ap(caller)}
	r := Route{From: ap(legB), To: ap(agent), InSSRC: 0x11111111, OutSSRC: 0xb0b0b0b0, SeqOff: 1000, TSOff: 0xfffff000, InPT: 8, OutPT: 8}
	if err := f.Put(fl, r); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = byte(i)
	}
	dst := net.UDPAddrFromAddrPort(ap(legA))
	for i := range 3 {
		if _, err := caller.WriteToUDPAddrPort(rtpPacket(i == 1, 8, uint16(65535+i), uint32(5000+i*160), 0x11111111, payload), ap(legA)); err != nil {
			t.Fatal(err)
		}
		got, from := readFrom(t, agent)
		if from != ap(legB) {
			t.Fatalf("packet %d came from %s, want leg B %s", i, from, ap(legB))
		}
		want := rtpPacket(i == 1, 8, uint16(65535+i+1000), uint32(5000+i*160+0xfffff000), 0xb0b0b0b0, payload)
		if string(got) != string(want) {
			t.Fatalf("packet %d:\n got % x\nwant % x", i, got[:12], want[:12])
		}
	}
	lastSeq, lastTS := uint16(65535+2+1000-65536), uint32(5000+2*160+0xfffff000-1<<32)
	c, ok := f.Read(fl)
	if !ok || c.Packets != 3 || c.Octets != 3*160 || c.LastSeq != lastSeq || c.LastTS != lastTS {
		t.Fatalf("counters %+v (%v), want 3 packets of 160 octets, last seq %d ts %d", c, ok, lastSeq, lastTS)
	}
	if since := time.Since(c.Last); since < 0 || since > time.Minute {
		t.Fatalf("last packet %v ago", since)
	}

	// Left to user space: a new SSRC, another payload type (DTMF), a
	// header with CSRCs, and any other sender.
	others := []struct {
		name string
		from *net.UDPConn
		pkt  []byte
	}{
		{"new SSRC", caller, rtpPacket(false, 8, 1, 1, 0x22222222, payload)},
		{"DTMF event", caller, rtpPacket(false, 101, 4, 5000, 0x11111111, []byte{1, 0x80, 0, 160})},
		{"CSRC count", caller, append([]byte{0x81}, rtpPacket(false, 8, 5, 5, 0x11111111, make([]byte, 164))[1:]...)},
		{"third party", stranger, rtpPacket(false, 8, 6, 6, 0x11111111, payload)},
	}
	for _, o := range others {
		if _, err := o.from.WriteToUDP(o.pkt, dst); err != nil {
			t.Fatal(err)
		}
		got, from := readFrom(t, legA)
		if string(got) != string(o.pkt) || from != ap(o.from) {
			t.Fatalf("%s: leg A got %d bytes from %s, want the packet unchanged from %s", o.name, len(got), from, ap(o.from))
		}
	}

	c, ok = f.Remove(fl)
	if !ok || c.Packets != 3 {
		t.Fatalf("removed counters %+v (%v), want 3 packets", c, ok)
	}
	if _, ok := f.Read(fl); ok {
		t.Fatal("the route is still there after Remove")
	}
	pkt := rtpPacket(false, 8, 9, 9, 0x11111111, payload)
	if _, err := caller.WriteToUDP(pkt, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFrom(t, legA); string(got) != string(pkt) {
		t.Fatal("after Remove the packet did not reach leg A unchanged")
	}
}

// TestPortFilterFollowsTheFlows: the program looks a packet up only on a
// port where a flow arrives; the ports map says so while any flow of the
// port is in the kernel — two callers' flows on one leg's socket, a route
// put again — and no longer once the last is removed.
func TestPortFilterFollowsTheFlows(t *testing.T) {
	f := openForTest(t)
	callerA, callerB, leg, out, agent := udp(t), udp(t), udp(t), udp(t), udp(t)
	flA, flB := Flow{Local: ap(leg), Remote: ap(callerA)}, Flow{Local: ap(leg), Remote: ap(callerB)}
	r := Route{From: ap(out), To: ap(agent), InSSRC: 7, OutSSRC: 9, InPT: 8, OutPT: 8}
	filtered := func() bool {
		var n uint32
		if err := f.objs.Ports.Lookup(uint32(ap(leg).Port()), &n); err != nil {
			t.Fatal(err)
		}
		return n != 0
	}
	for _, fl := range []Flow{flA, flB, flA} {
		if err := f.Put(fl, r); err != nil {
			t.Fatal(err)
		}
	}
	if !filtered() {
		t.Fatal("the leg's port is not in the ports map with two flows")
	}
	if _, ok := f.Remove(flA); !ok {
		t.Fatal("flow A was not in the kernel")
	}
	if !filtered() {
		t.Fatal("removing one of two flows took the port out")
	}
	// Flow B is still forwarded in the kernel.
	payload := make([]byte, 160)
	if _, err := callerB.WriteToUDPAddrPort(rtpPacket(false, 8, 1, 160, 7, payload), ap(leg)); err != nil {
		t.Fatal(err)
	}
	if _, from := readFrom(t, agent); from != ap(out) {
		t.Fatalf("flow B's packet came from %s, want %s", from, ap(out))
	}
	if _, ok := f.Remove(flB); !ok {
		t.Fatal("flow B was not in the kernel")
	}
	if filtered() {
		t.Fatal("the port is still in the ports map with no flow")
	}
	if _, ok := f.Remove(flB); ok {
		t.Fatal("flow B removed twice")
	}
	// A packet for the port reaches the leg's socket unchanged.
	pkt := rtpPacket(false, 8, 2, 320, 7, payload)
	if _, err := callerB.WriteToUDPAddrPort(pkt, ap(leg)); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFrom(t, leg); string(got) != string(pkt) {
		t.Fatal("with no flow the packet did not reach the leg unchanged")
	}
}

// TestUseWhileClosing: a leg's watchdog may read its counters while the
// engine shuts the forwarder down (seen under -race in CI): reads racing
// Close are safe, and after it Put, Read, Remove and Live find nothing.
func TestUseWhileClosing(t *testing.T) {
	f := openForTest(t)
	caller, leg := udp(t), udp(t)
	fl := Flow{Local: ap(leg), Remote: ap(caller)}
	if err := f.Put(fl, Route{Sink: true, InSSRC: 7, InPT: 8}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	readers := make(chan int, 4)
	for range 4 {
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					readers <- n
					return
				default:
				}
				f.Read(fl)
				f.Live()
				n++
			}
		}()
	}
	// Close once the readers are reading, however slowly they start.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if c, ok := f.Read(fl); ok && c.Packets == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the flow was never readable")
		}
	}
	f.Close()
	close(stop)
	for range 4 {
		<-readers
	}
	if _, ok := f.Read(fl); ok {
		t.Fatal("Read found the flow after Close")
	}
	if _, ok := f.Remove(fl); ok {
		t.Fatal("Remove found the flow after Close")
	}
	if fw, sunk := f.Live(); fw != 0 || sunk != 0 {
		t.Fatalf("Live after Close: %d, %d", fw, sunk)
	}
	if err := f.Put(fl, Route{Sink: true, InSSRC: 7, InPT: 8}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v, want ErrClosed", err)
	}
	f.Close() // twice: harmless (the cleanup closes it once more)
}
