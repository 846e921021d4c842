package simulate

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestBareHoldMeasuresEveryPeer: the bare-hold generator streams caller
// audio to every peer, opens its window once every peer has been heard,
// and measures exactly the frames each peer sent inside it — not the one
// before, and nothing from an address that is not a peer.
func TestBareHoldMeasuresEveryPeer(t *testing.T) {
	m, err := newMediaPort(true)
	if err != nil {
		t.Fatal(err)
	}
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var socks []*net.UDPConn
	var peers []netip.AddrPort
	for range 3 {
		c := listen()
		socks, peers = append(socks, c), append(peers, c.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	stranger := listen()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, opened := make(chan netip.AddrPort, 1), make(chan struct{})
	result := make(chan HoldPacing, 1)
	go func() {
		result <- bareHold(ctx, m, peers, func(a netip.AddrPort) { ready <- a }, func() { close(opened) })
	}()
	to := <-ready
	frame := func(seq uint16, payload []byte) []byte {
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 7},
			Payload: payload}).Marshal()
		return b
	}
	hold := bytes.Repeat([]byte{0xd5}, 160)
	for _, c := range socks {
		_, _ = c.WriteToUDPAddrPort(frame(0, hold), to) // before the window
	}
	select {
	case <-opened:
	case <-time.After(30 * time.Second):
		t.Fatal("the window never opened")
	}
	for seq := uint16(1); seq <= 100; seq++ {
		for _, c := range socks {
			_, _ = c.WriteToUDPAddrPort(frame(seq, hold), to)
		}
		_, _ = stranger.WriteToUDPAddrPort(frame(seq, hold), to)
	}
	// The expected frame last: once every peer's has been counted, the
	// reader has taken every frame before it.
	for _, c := range socks {
		_, _ = c.WriteToUDPAddrPort(frame(101, agentFrame), to)
	}
	for deadline := time.Now().Add(30 * time.Second); m.got.Load() < int64(len(socks)); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d peers' last frames read", m.got.Load(), len(socks))
		}
	}
	// Every peer got the callers' audio.
	for i, c := range socks {
		buf := make([]byte, 1500)
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("peer %d got no caller audio: %v", i, err)
		}
		if _, payload, ok := rtpPayload(buf[:n]); !ok || !bytes.Equal(payload, callerFrame) {
			t.Fatalf("peer %d got % x", i, buf[:min(n, 16)])
		}
	}
	cancel()
	h := <-result
	if h.Streams != 3 || h.Frames != 300 {
		t.Fatalf("measured %d streams, %d frames; want 3 and 300 (the frame before the window and the stranger's not)", h.Streams, h.Frames)
	}
	if h.Window <= 0 {
		t.Fatalf("window %v", h.Window)
	}
}
