package media

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkHoldStreams: N queued callers hear hold audio at once, each its
// own stream (SSRC, sequence, timestamp) from its own socket; 20 receiver
// sockets in another process take every packet and measure, per stream, how
// late each frame arrives against its timestamp (arrival − first arrival −
// (ts − first ts)/8 kHz). Reports p50/p99/max lateness, frames the clock
// skipped, CPU and heap per call. The receiver runs as a separate process.
// Run with -benchtime 1x (5 s measured).
func BenchmarkHoldStreams(b *testing.B) {
	for _, n := range []int{2000, 5000} {
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) { benchHold(b, n, 5*time.Second) })
	}
}

type streamStat struct {
	firstAt time.Time
	firstTS uint32
	lastTS  uint32
	n       int
}

type holdReceiver struct {
	conn    *net.UDPConn
	mu      sync.Mutex
	streams map[uint32]*streamStat
	late    []time.Duration
	skipped int
	packets int
}

func (r *holdReceiver) run(stop <-chan struct{}) {
	buf := make([]byte, 1500)
	for {
		_ = r.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := r.conn.Read(buf)
		now := time.Now()
		if err != nil {
			select {
			case <-stop:
				return
			default:
				continue
			}
		}
		if n < 12 {
			continue
		}
		ts := binary.BigEndian.Uint32(buf[4:8])
		ssrc := binary.BigEndian.Uint32(buf[8:12])
		r.mu.Lock()
		r.packets++
		st := r.streams[ssrc]
		if st == nil {
			r.streams[ssrc] = &streamStat{firstAt: now, firstTS: ts, lastTS: ts, n: 1}
			r.mu.Unlock()
			continue
		}
		if d := ts - st.lastTS; d > FrameSamples {
			r.skipped += int(d/FrameSamples) - 1
		}
		st.lastTS = ts
		st.n++
		want := st.firstAt.Add(time.Duration(ts-st.firstTS) * time.Second / 8000)
		r.late = append(r.late, now.Sub(want))
		r.mu.Unlock()
	}
}

func benchHold(b *testing.B, n int, d time.Duration) {
	e := testEngine(b, "40000-59999")
	// The receiver is a separate process (this test binary run as
	// TestHelperHoldReceiver): what it costs is not counted as sc115's CPU.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldReceiver$")
	cmd.Env = append(os.Environ(), "SC115_HOLD_RECEIVER="+(d+time.Second).String())
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var addrs []netip.AddrPort
	for sc.Scan() {
		line := sc.Text()
		if line == "ready" {
			break
		}
		if a, err := netip.ParseAddrPort(strings.TrimPrefix(line, "addr ")); err == nil {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		b.Fatal("receiver process gave no addresses")
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	sessions := make([]*Session, 0, n)
	for i := 0; i < n; i++ {
		s, err := e.NewSession()
		if err != nil {
			b.Fatalf("session %d: %v", i, err)
		}
		sessions = append(sessions, s)
		s.SetParams(Params{Remote: addrs[i%len(addrs)], Codec: PCMA, PT: 8})
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	cpu := cpuMeter()
	start := time.Now()
	b.ResetTimer()
	for _, s := range sessions {
		s.Play(nil, e.HoldTrack())
	}
	time.Sleep(d)
	for _, s := range sessions {
		s.StopPlaying()
	}
	elapsed := time.Since(start)
	used := cpu()
	b.StopTimer()
	var st holdStats
	for sc.Scan() {
		if j, ok := strings.CutPrefix(sc.Text(), "stats "); ok {
			_ = json.Unmarshal([]byte(j), &st)
		}
	}
	_ = cmd.Wait()
	b.ReportMetric(st.P50, "late-p50-ms")
	b.ReportMetric(st.P99, "late-p99-ms")
	b.ReportMetric(st.Max, "late-max-ms")
	b.ReportMetric(float64(st.Skipped), "frames-skipped")
	b.ReportMetric(float64(st.Packets)/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(float64(st.Streams), "streams-heard")
	b.ReportMetric(100*used.Seconds()/elapsed.Seconds()/float64(n), "cpu-%-per-call")
	b.ReportMetric(float64(m1.HeapInuse+m1.StackInuse-m0.HeapInuse-m0.StackInuse)/float64(n)/1024, "KB-per-call")
}

type holdStats struct {
	P50, P99, Max             float64
	Skipped, Packets, Streams int
}

// TestHelperHoldReceiver is not a test: it is the receiving process of
// BenchmarkHoldStreams. It listens on 20 sockets, prints their addresses,
// measures every frame's lateness for the given time, and prints stats.
func TestHelperHoldReceiver(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("SC115_HOLD_RECEIVER"))
	if err != nil {
		t.Skip("helper process only")
	}
	const nrecv = 20
	recv := make([]*holdReceiver, nrecv)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range recv {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadBuffer(8 << 20)
		recv[i] = &holdReceiver{conn: c, streams: map[uint32]*streamStat{}}
		fmt.Println("addr", c.LocalAddr().String())
		wg.Add(1)
		go func(r *holdReceiver) { defer wg.Done(); r.run(stop) }(recv[i])
	}
	fmt.Println("ready")
	time.Sleep(dur)
	close(stop)
	wg.Wait()
	var late []time.Duration
	var st holdStats
	for _, r := range recv {
		late = append(late, r.late...)
		st.Skipped += r.skipped
		st.Packets += r.packets
		st.Streams += len(r.streams)
	}
	q := quantilesMS(late, 0.5, 0.99, 1)
	st.P50, st.P99, st.Max = q[0], q[1], q[2]
	j, _ := json.Marshal(st)
	fmt.Println("stats", string(j))
}
