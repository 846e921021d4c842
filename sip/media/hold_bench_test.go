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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkHoldStreams: N queued callers hear hold audio at once, each its
// own stream (SSRC, sequence, timestamp) from its own socket; 20 receiver
// sockets in another process take every packet and measure, per stream, how
// late each frame arrives against its timestamp: its offset is arrival −
// (ts − first ts)/8 kHz, arrival taken from the kernel's receive
// timestamp, and its lateness is that offset minus the stream's smallest
// (the frame that came closest to the ideal schedule; no early frame
// hides a late one). Reports p50/p99/max lateness, frames skipped, CPU and heap per
// call. Beside sc115 the same run measures bare-sender: the minimal paced
// sender (N sockets, one goroutine per core sleeping to absolute 20 ms
// deadlines, one sendto per frame) — the machine's limit with this
// receiver on the same two cores. Run with -benchtime 1x (5 s measured).
func BenchmarkHoldStreams(b *testing.B) {
	for _, n := range []int{2000, 5000} {
		for _, send := range []string{BatchOn, BatchOff} {
			b.Run(fmt.Sprintf("calls=%d/sc115/send_batching=%s", n, send), func(b *testing.B) { benchHold(b, n, send, 5*time.Second) })
		}
		b.Run(fmt.Sprintf("calls=%d/bare-sender", n), func(b *testing.B) { benchHoldBare(b, n, 5*time.Second) })
	}
}

type streamStat struct {
	firstTS uint32
	lastTS  uint32
	offsets []time.Duration // per frame: arrival − media time since the first frame
}

// holdRun is one run of the receiver process.
type holdRun struct {
	cmd   *exec.Cmd
	sc    *bufio.Scanner
	addrs []netip.AddrPort
}

// startHoldReceiver starts the receiver process (this test binary run as
// TestHelperHoldReceiver) for d plus a second and reads its addresses.
func startHoldReceiver(b *testing.B, d time.Duration) *holdRun {
	cmd := exec.Command("nice", "-n", "19", os.Args[0], "-test.run=^TestHelperHoldReceiver$")
	cmd.Env = append(os.Environ(), "SC115_HOLD_RECEIVER="+(d+time.Second).String())
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	r := &holdRun{cmd: cmd, sc: bufio.NewScanner(out)}
	for r.sc.Scan() {
		line := r.sc.Text()
		if line == "ready" {
			break
		}
		if a, err := netip.ParseAddrPort(strings.TrimPrefix(line, "addr ")); err == nil {
			r.addrs = append(r.addrs, a)
		}
	}
	if len(r.addrs) == 0 {
		b.Fatal("receiver process gave no addresses")
	}
	return r
}

// report waits for the receiver's stats and reports them with the
// sender's CPU over elapsed.
func (r *holdRun) report(b *testing.B, n int, elapsed, used time.Duration) {
	var st holdStats
	for r.sc.Scan() {
		if j, ok := strings.CutPrefix(r.sc.Text(), "stats "); ok {
			_ = json.Unmarshal([]byte(j), &st)
		}
	}
	_ = r.cmd.Wait()
	b.ReportMetric(st.P50, "late-p50-ms")
	b.ReportMetric(st.P99, "late-p99-ms")
	b.ReportMetric(st.Max, "late-max-ms")
	b.ReportMetric(float64(st.Skipped), "frames-skipped")
	b.ReportMetric(float64(st.Packets)/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(float64(st.Streams), "streams-heard")
	b.ReportMetric(st.Cores, "receiver-cores")
	b.ReportMetric(100*used.Seconds()/elapsed.Seconds()/float64(n), "cpu-%-per-call")
}

// benchHoldBare is the minimal paced sender the sc115 numbers stand beside.
func benchHoldBare(b *testing.B, n int, d time.Duration) {
	r := startHoldReceiver(b, d)
	conns := make([]*net.UDPConn, n)
	dsts := make([]*net.UDPAddr, n)
	for i := range conns {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i], dsts[i] = c, net.UDPAddrFromAddrPort(r.addrs[i%len(r.addrs)])
	}
	cpu := cpuMeter()
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pkt [12 + FrameSamples]byte
			pkt[0], pkt[1] = 0x80, 8
			for tick := 1; time.Since(start) < d; tick++ {
				time.Sleep(time.Until(start.Add(time.Duration(tick) * FrameDuration)))
				for i := g; i < n; i += runtime.GOMAXPROCS(0) {
					binary.BigEndian.PutUint16(pkt[2:], uint16(tick))
					binary.BigEndian.PutUint32(pkt[4:], uint32(tick*FrameSamples))
					binary.BigEndian.PutUint32(pkt[8:], uint32(i+1))
					_, _ = conns[i].WriteToUDP(pkt[:], dsts[i])
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	used := cpu()
	b.StopTimer()
	r.report(b, n, elapsed, used)
}

// holdReceiver is one receiving socket of the hold benchmark's receiver
// process; its goroutine alone touches the fields.
type holdReceiver struct {
	conn    *tsConn
	streams map[uint32]*streamStat
	skipped int
	packets int
}

func (r *holdReceiver) run(stop <-chan struct{}) {
	r.conn.readUntil(stop, r.frame)
}

// frame measures one arrival: its lateness against the stream's first
// frame and its RTP timestamp, and frames missing before it.
func (r *holdReceiver) frame(b []byte, now time.Time, _ netip.AddrPort) {
	if len(b) < 12 {
		return
	}
	ts := binary.BigEndian.Uint32(b[4:8])
	ssrc := binary.BigEndian.Uint32(b[8:12])
	r.packets++
	st := r.streams[ssrc]
	if st == nil {
		st = &streamStat{firstTS: ts, lastTS: ts, offsets: make([]time.Duration, 0, 300)}
		r.streams[ssrc] = st
	} else if d := ts - st.lastTS; d > FrameSamples {
		r.skipped += int(d/FrameSamples) - 1
	}
	st.lastTS = ts
	media := time.Duration(ts-st.firstTS) * time.Second / 8000
	st.offsets = append(st.offsets, time.Duration(now.UnixNano())-media)
}

// lateness is every frame's offset minus the stream's smallest offset.
func (r *holdReceiver) lateness() []time.Duration {
	var late []time.Duration
	for _, st := range r.streams {
		best := slices.Min(st.offsets)
		for _, o := range st.offsets {
			late = append(late, o-best)
		}
	}
	return late
}

func benchHold(b *testing.B, n int, send string, d time.Duration) {
	cfg := Defaults()
	cfg.PromptsDir = "../../prompts/de"
	cfg.RTPPorts = "40000-59999"
	cfg.SendBatching = send
	e, err := NewEngine(cfg, "127.0.0.1", nil, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	r := startHoldReceiver(b, d)
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
		s.SetParams(Params{Remote: r.addrs[i%len(r.addrs)], Codec: PCMA, PT: 8})
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
		s.Play(nil, e.Prompt("hold.wav"))
	}
	time.Sleep(d)
	for _, s := range sessions {
		s.StopPlaying()
	}
	var m2 runtime.MemStats
	runtime.ReadMemStats(&m2)
	b.ReportMetric(float64(m2.NumGC-m1.NumGC), "gc-runs")
	elapsed := time.Since(start)
	used := cpu()
	b.StopTimer()
	r.report(b, n, elapsed, used)
	b.ReportMetric(float64(m1.HeapInuse+m1.StackInuse-m0.HeapInuse-m0.StackInuse)/float64(n)/1024, "KB-per-call")
}

type holdStats struct {
	P50, P99, Max             float64
	Skipped, Packets, Streams int
	Cores                     float64 // the receiver process' CPU
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
	var st holdStats
	recv := make([]*holdReceiver, nrecv)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range recv {
		c, err := listenTS()
		if err != nil {
			t.Fatal(err)
		}
		recv[i] = &holdReceiver{conn: c, streams: map[uint32]*streamStat{}}
		fmt.Println("addr", c.conn.LocalAddr().String())
		wg.Add(1)
		go func(r *holdReceiver) { defer wg.Done(); r.run(stop) }(recv[i])
	}
	fmt.Println("ready")
	cpu := cpuMeter()
	time.Sleep(dur)
	st.Cores = cpu().Seconds() / dur.Seconds()
	close(stop)
	wg.Wait()
	var late []time.Duration
	for _, r := range recv {
		late = append(late, r.lateness()...)
		st.Skipped += r.skipped
		st.Packets += r.packets
		st.Streams += len(r.streams)
	}
	q := quantilesMS(late, 0.5, 0.99, 1)
	st.P50, st.P99, st.Max = q[0], q[1], q[2]
	j, _ := json.Marshal(st)
	fmt.Println("stats", string(j))
}
