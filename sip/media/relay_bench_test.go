package media

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkBridgedCalls: N bridged calls; a load generator in another
// process (this test binary run as TestHelperRelayPeers; not niced: its
// send timestamps must not wait behind sc115) plays both phones of every
// call: each leg
// gets a paced 20 ms A-law frame every 20 ms, so sc115 relays 100·N
// packets/s in and 100·N out. Each payload carries its send time; the
// generator takes each relayed packet's arrival time from the kernel
// (SO_TIMESTAMPNS) and reports the added latency (arrival − send) and the
// loss. 5 s measured; run with -benchtime 1x.
//
// path=kernel forwards in the kernel (media.kernel_forwarding on; skipped
// where it cannot load), path=user relays in user space, path=bare is the
// minimal user-space forwarder in Go (two net.UDPConn a call, a goroutine
// each doing Read → WriteTo, nothing else) in the same run. machine-cores is
// the whole machine's busy CPU (generator included): the kernel path's
// work is done in the generator's sendto on loopback, so sc115's own
// cores alone would flatter it.
func BenchmarkBridgedCalls(b *testing.B) {
	for _, path := range []string{"kernel", "user", "bare"} {
		for _, n := range []int{500, 1000} {
			b.Run(fmt.Sprintf("path=%s/calls=%d", path, n), func(b *testing.B) { benchBridged(b, path, n, 5*time.Second) })
		}
	}
}

// relayStats is what the generator process reports.
type relayStats struct {
	Sent, Received int
	P50, P99, Max  float64
	Cores          float64
}

func benchBridged(b *testing.B, path string, n int, d time.Duration) {
	cfg := Defaults()
	cfg.PromptsDir = "../../prompts/de"
	cfg.RTPPorts = "40000-49999"
	cfg.KernelForwarding = map[string]string{"kernel": KernelOn, "user": KernelOff}[path]
	e, err := NewEngine(cfg, "127.0.0.1", nil, zerolog.Nop())
	if err != nil {
		b.Skip(err)
	}
	defer e.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRelayPeers$")
	cmd.Env = append(os.Environ(), "SC115_RELAY_PEERS="+d.String())
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var peers []netip.AddrPort
	for sc.Scan() && sc.Text() != "ready" {
		if a, err := netip.ParseAddrPort(strings.TrimPrefix(sc.Text(), "addr ")); err == nil {
			peers = append(peers, a)
		}
	}
	if len(peers) == 0 {
		b.Fatal("generator gave no addresses")
	}
	w := bufio.NewWriter(in)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := 0; i < n; i++ {
		pa, pc := peers[(2*i)%len(peers)], peers[(2*i+1)%len(peers)]
		var la, lc netip.AddrPort
		if path == "bare" {
			la, lc = bareForwarder(b, pa, pc)
		} else {
			a, _ := e.NewSession()
			c, _ := e.NewSession()
			defer a.Close()
			defer c.Close()
			a.SetParams(Params{Remote: pa, Codec: PCMA, PT: 8})
			c.SetParams(Params{Remote: pc, Codec: PCMA, PT: 8})
			Bridge(a, c)
			la, lc = a.Local(), c.Local()
		}
		fmt.Fprintf(w, "leg %d %s\nleg %d %s\n", (2*i)%len(peers), la, (2*i+1)%len(peers), lc)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	fmt.Fprintln(w, "go")
	_ = w.Flush()
	cpu, machine := cpuMeter(), machineMeter()
	start := time.Now()
	b.ResetTimer()
	var st relayStats
	for sc.Scan() {
		if j, ok := strings.CutPrefix(sc.Text(), "stats "); ok {
			_ = json.Unmarshal([]byte(j), &st)
			break
		}
	}
	elapsed := time.Since(start)
	used, all := cpu(), machine()
	b.StopTimer()
	_ = in.Close()
	_ = cmd.Wait()
	b.ReportMetric(float64(st.Sent)/d.Seconds(), "pkts-in/s")
	b.ReportMetric(100*float64(st.Sent-st.Received)/float64(max(st.Sent, 1)), "%loss")
	b.ReportMetric(st.P50, "latency-p50-ms")
	b.ReportMetric(st.P99, "latency-p99-ms")
	b.ReportMetric(st.Max, "latency-max-ms")
	b.ReportMetric(used.Seconds()/elapsed.Seconds(), "cores-busy")
	b.ReportMetric(st.Cores, "generator-cores")
	b.ReportMetric(all.Seconds()/elapsed.Seconds(), "machine-cores")
	b.ReportMetric(float64(m1.HeapInuse+m1.StackInuse-m0.HeapInuse-m0.StackInuse)/float64(n)/1024, "KB-per-call")
}

// bareForwarder is the minimal forwarder of one call: two sockets, each
// read by a goroutine that writes what comes to the other side's peer
// from the other socket. Closed when the benchmark ends.
func bareForwarder(b *testing.B, pa, pc netip.AddrPort) (la, lc netip.AddrPort) {
	a, err1 := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	c, err2 := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err1 != nil || err2 != nil {
		b.Fatal(err1, err2)
	}
	b.Cleanup(func() { _ = a.Close(); _ = c.Close() })
	relay := func(in, out *net.UDPConn, to netip.AddrPort) {
		buf := make([]byte, 1500)
		for {
			n, err := in.Read(buf)
			if err != nil {
				return
			}
			_, _ = out.WriteToUDPAddrPort(buf[:n], to)
		}
	}
	go relay(a, c, pc)
	go relay(c, a, pa)
	return a.LocalAddr().(*net.UDPAddr).AddrPort(), c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// relayLeg is one sc115 leg the generator sends to, from socket sock.
type relayLeg struct {
	sock int
	to   netip.AddrPort
}

// TestHelperRelayPeers is not a test: it is the load generator of
// BenchmarkBridgedCalls. It listens on a few sockets (the phones of all
// calls share them; sc115 latches each leg onto its socket), reads the
// legs to feed from stdin, sends every leg a frame every 20 ms (legs
// spread evenly over the 20 ms, one send batch per millisecond) for the
// given time, and prints what came back.
func TestHelperRelayPeers(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("SC115_RELAY_PEERS"))
	if err != nil {
		t.Skip("helper process only")
	}
	const nsock = 8
	conns := make([]*tsConn, nsock)
	for i := range conns {
		if conns[i], err = listenTS(); err != nil {
			t.Fatal(err)
		}
		fmt.Println("addr", conns[i].conn.LocalAddr().String())
	}
	fmt.Println("ready")
	var legs []relayLeg
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() && sc.Text() != "go" {
		var k int
		var addr string
		if _, err := fmt.Sscanf(sc.Text(), "leg %d %s", &k, &addr); err == nil {
			legs = append(legs, relayLeg{sock: k, to: netip.MustParseAddrPort(addr)})
		}
	}
	go func() { _, _ = io.Copy(io.Discard, os.Stdin) }()

	stop := make(chan struct{})
	var mu sync.Mutex
	var lat []time.Duration
	received := 0
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func(c *tsConn) {
			defer wg.Done()
			var local []time.Duration
			c.readUntil(stop, func(b []byte, at time.Time, _ netip.AddrPort) {
				if len(b) >= 20 {
					sent := int64(binary.BigEndian.Uint64(b[12:20]))
					local = append(local, time.Duration(at.UnixNano()-sent))
				}
			})
			mu.Lock()
			lat = append(lat, local...)
			received += len(local)
			mu.Unlock()
		}(c)
	}

	cpu := cpuMeter()
	sent := 0
	pkt := make([]byte, 12+FrameSamples)
	pkt[0], pkt[1] = 0x80, 8
	seq := make([]uint16, len(legs))
	start := time.Now()
	const slots = 20 // one batch per millisecond
	for tick := 1; time.Since(start) < dur; tick++ {
		time.Sleep(time.Until(start.Add(time.Duration(tick) * time.Millisecond)))
		for i := tick % slots; i < len(legs); i += slots {
			seq[i]++
			binary.BigEndian.PutUint16(pkt[2:], seq[i])
			binary.BigEndian.PutUint32(pkt[4:], uint32(seq[i])*FrameSamples)
			binary.BigEndian.PutUint32(pkt[8:], uint32(i+1))
			binary.BigEndian.PutUint64(pkt[12:], uint64(time.Now().UnixNano()))
			if _, err := conns[legs[i].sock].conn.WriteToUDPAddrPort(pkt, legs[i].to); err == nil {
				sent++
			}
		}
	}
	time.Sleep(300 * time.Millisecond) // the last packets come back
	close(stop)
	wg.Wait()
	st := relayStats{Sent: sent, Received: received, Cores: cpu().Seconds() / dur.Seconds()}
	q := quantilesMS(lat, 0.5, 0.99, 1)
	st.P50, st.P99, st.Max = q[0], q[1], q[2]
	j, _ := json.Marshal(st)
	fmt.Println("stats", string(j))
}
