package media

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// BenchmarkRelay measures packets relayed per second through one bridged
// pair (caller → sc115 → agent, A-law → µ-law transcoded) over loopback,
// next to a minimal UDP forwarder in the same run (the machine's limit).
func BenchmarkRelay(b *testing.B) {
	b.Run("sc115", func(b *testing.B) {
		e := testEngine(b)
		caller, agent := newPeer(b), newPeer(b)
		s1, _ := e.NewSession()
		s2, _ := e.NewSession()
		defer s1.Close()
		defer s2.Close()
		s1.SetParams(Params{Remote: caller.addr(), Codec: PCMA, PT: 8})
		s2.SetParams(Params{Remote: agent.addr(), Codec: PCMU, PT: 0})
		Bridge(s1, s2)
		relayLoop(b, caller, s1.Local(), agent)
	})
	b.Run("bare-forwarder", func(b *testing.B) {
		in, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		out, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		defer in.Close()
		defer out.Close()
		caller, agent := newPeer(b), newPeer(b)
		dst := net.UDPAddrFromAddrPort(agent.addr())
		go func() {
			buf := make([]byte, 1500)
			for {
				n, err := in.Read(buf)
				if err != nil {
					return
				}
				_, _ = out.WriteToUDP(buf[:n], dst)
			}
		}()
		relayLoop(b, caller, in.LocalAddr().(*net.UDPAddr).AddrPort(), agent)
	})
}

// relayLoop sends b.N packets in windows of 64 and counts what arrives.
func relayLoop(b *testing.B, from *peer, to netip.AddrPort, sink *peer) {
	payload := make([]byte, 160)
	pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SSRC: 1}, Payload: payload}).Marshal()
	_ = sink.conn.SetReadBuffer(4 << 20)
	got := make(chan int)
	go func() {
		buf := make([]byte, 1500)
		n := 0
		for {
			_ = sink.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if _, err := sink.conn.Read(buf); err != nil {
				got <- n
				return
			}
			n++
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		if _, err := from.conn.WriteToUDPAddrPort(pkt, to); err != nil {
			b.Fatal(err)
		}
		if i%64 == 63 {
			time.Sleep(50 * time.Microsecond) // stay below socket buffer overflow
		}
	}
	elapsed := time.Since(start)
	n := <-got
	b.ReportMetric(float64(n)/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(100*float64(b.N-n)/float64(b.N), "%loss")
}

// BenchmarkGeneratedFrame is the cost of one 20 ms hold frame on one leg:
// frame lookup, header rewrite, one sendto.
func BenchmarkGeneratedFrame(b *testing.B) {
	e := testEngine(b)
	sink := newPeer(b)
	s, _ := e.NewSession()
	defer s.Close()
	s.SetParams(Params{Remote: sink.addr(), Codec: PCMA, PT: 8})
	s.player.Store(&player{loop: e.Prompt("hold.wav")})
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, err := sink.conn.Read(buf); err != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.sendGenerated(0, nil)
	}
}
