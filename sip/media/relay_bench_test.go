package media

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// BenchmarkBridgedCalls: N bridged calls, each side sending 20 ms frames
// (50 packets/s per direction, paced, from its own socket), so sc115
// relays 2·50·N packets/s in and out. Each payload carries its send time;
// the other side measures the added latency and the loss. 5 s measured;
// run with -benchtime 1x.
func BenchmarkBridgedCalls(b *testing.B) {
	for _, n := range []int{500, 1000} {
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) { benchBridged(b, n, 5*time.Second) })
	}
}

type endpoint struct {
	conn *net.UDPConn
	to   *net.UDPAddr
	seq  uint16
}

func benchBridged(b *testing.B, n int, d time.Duration) {
	e := testEngine(b, "40000-49999")
	var eps []*endpoint
	for i := 0; i < n; i++ {
		a, _ := e.NewSession()
		c, _ := e.NewSession()
		defer a.Close()
		defer c.Close()
		for _, s := range []*Session{a, c} {
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			_ = conn.SetReadBuffer(1 << 20)
			defer conn.Close()
			s.SetParams(Params{Remote: conn.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: PCMA, PT: 8})
			eps = append(eps, &endpoint{conn: conn, to: net.UDPAddrFromAddrPort(s.Local())})
		}
		Bridge(a, c)
	}
	var received atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, ep := range eps {
		wg.Add(1)
		go func(ep *endpoint) {
			defer wg.Done()
			buf := make([]byte, 1500)
			var local []time.Duration
			for {
				_ = ep.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				k, err := ep.conn.Read(buf)
				if err != nil {
					select {
					case <-stop:
						mu.Lock()
						lat = append(lat, local...)
						mu.Unlock()
						return
					default:
						continue
					}
				}
				if k >= 20 {
					sent := int64(binary.BigEndian.Uint64(buf[12:20]))
					local = append(local, time.Duration(time.Now().UnixNano()-sent))
					received.Add(1)
				}
			}
		}(ep)
	}
	cpu := cpuMeter()
	var sent int64
	start := time.Now()
	b.ResetTimer()
	pkt := make([]byte, 12+160)
	for tick := time.Now(); time.Since(start) < d; {
		for _, ep := range eps {
			ep.seq++
			h := rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: ep.seq, Timestamp: uint32(ep.seq) * 160, SSRC: 7}
			_, _ = h.MarshalTo(pkt)
			binary.BigEndian.PutUint64(pkt[12:20], uint64(time.Now().UnixNano()))
			if _, err := ep.conn.WriteToUDP(pkt, ep.to); err == nil {
				sent++
			}
		}
		tick = tick.Add(FrameDuration)
		time.Sleep(time.Until(tick))
	}
	elapsed := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	used := cpu()
	b.StopTimer()
	close(stop)
	wg.Wait()
	q := quantilesMS(lat, 0.5, 0.99)
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "pkts-in/s")
	b.ReportMetric(100*float64(sent-received.Load())/float64(max(sent, 1)), "%loss")
	b.ReportMetric(q[0], "latency-p50-ms")
	b.ReportMetric(q[1], "latency-p99-ms")
	b.ReportMetric(used.Seconds()/elapsed.Seconds(), "cores-busy")
}
