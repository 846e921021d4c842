package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// bareHoldPorts is where the bare sender's sockets are, one a caller:
// below Linux' ephemeral range (32768-60999) and sc115's RTP ports in the
// hold benchmark (20000-39999).
const bareHoldPorts = 10000

// benchHoldBare is BenchmarkHoldThroughBinary's physical limit: the same
// generator (`sc115 simulate --bare-hold`, the callers streaming their
// audio and measuring what they get as in sc115's run) against the bare
// paced sender (TestHelperBareHoldSender in a process of its own) instead
// of sc115. The sender does nothing but send; the callers' audio fills its
// sockets' buffers and the kernel drops the rest.
func benchHoldBare(b *testing.B, n int) {
	bin := buildBinary(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	spec := fmt.Sprintf("127.0.0.1:%d-%d", bareHoldPorts, bareHoldPorts+n-1)
	sim := exec.CommandContext(ctx, bin, "simulate", "--bare-hold", spec)
	out := &lockedLines{}
	sim.Stderr = out
	stdout, err := sim.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sim.Process.Kill(); _ = sim.Wait() }()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.add(sc.Text())
			lines <- sc.Text()
		}
		close(lines)
	}()
	want := func(prefix string) string {
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					b.Fatalf("simulate ended before %q\n%s", prefix, out)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-ctx.Done():
				b.Fatalf("no %q from simulate\n%s", prefix, out)
			}
		}
	}
	hello := want("bare hold: ")
	target := hello[strings.LastIndexByte(hello, ' ')+1:]
	sender := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestHelperBareHoldSender$")
	sender.Env = append(os.Environ(), fmt.Sprintf("SC115_BARE_HOLD_SENDER=%s %d %d 8m", target, bareHoldPorts, bareHoldPorts+n-1))
	senderOut, err := sender.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	sender.Stderr = out
	if err := sender.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sender.Process.Kill(); _ = sender.Wait() }()
	sc := bufio.NewScanner(senderOut)
	for sc.Scan() && sc.Text() != "ready" {
		out.add("sender: " + sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, senderOut) }()
	want("bare hold: every caller heard")

	cpu0, simCPU0 := procCPU(b, sender.Process.Pid), procCPU(b, sim.Process.Pid)
	b.ResetTimer()
	window := 30 * time.Second
	time.Sleep(window)
	b.StopTimer()
	cores := (procCPU(b, sender.Process.Pid) - cpu0).Seconds() / window.Seconds()
	simCores := (procCPU(b, sim.Process.Pid) - simCPU0).Seconds() / window.Seconds()
	_ = sim.Process.Signal(os.Interrupt) // the window closes; the report follows
	want("hold: ")
	b.Logf("%s", out)
	reportHoldLine(b, out.String())
	b.ReportMetric(cores, "sender-cores")
	b.ReportMetric(simCores, "generator-cores")
}

// lockedLines collects a process' output lines for a failure message.
type lockedLines struct {
	mu sync.Mutex
	sb strings.Builder
}

func (l *lockedLines) add(s string) { l.mu.Lock(); l.sb.WriteString(s + "\n"); l.mu.Unlock() }

func (l *lockedLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.Write(p)
}

func (l *lockedLines) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.sb.String() }

// TestHelperBareHoldSender is not a test: it is the bare paced sender of
// BenchmarkHoldThroughBinary, in a process of its own. SC115_BARE_HOLD_SENDER
// is "TARGET LOW HIGH DURATION": one UDP socket on each of 127.0.0.1:LOW to
// HIGH, and one goroutine a core sleeping to absolute 20 ms deadlines and
// sending each of its sockets' next G.711 frame to TARGET by sendto(2) —
// the least a sender of that many paced streams does. It reads nothing:
// what the callers send fills its sockets' buffers, and the kernel drops
// the rest. It stops by itself after
// DURATION.
func TestHelperBareHoldSender(t *testing.T) {
	f := strings.Fields(os.Getenv("SC115_BARE_HOLD_SENDER"))
	if len(f) != 4 {
		t.Skip("helper process only")
	}
	target, err := netip.ParseAddrPort(f[0])
	lo, err1 := strconv.Atoi(f[1])
	hi, err2 := strconv.Atoi(f[2])
	d, err3 := time.ParseDuration(f[3])
	if err != nil || err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("SC115_BARE_HOLD_SENDER %q", f)
	}
	// Plain sockets and sendto(2), as sc115's media engine uses: the Go
	// poller would add its own cost to every frame.
	fds := make([]int, 0, hi-lo+1)
	for p := lo; p <= hi; p++ {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrInet4{Port: p, Addr: [4]byte{127, 0, 0, 1}})
		}
		if err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
		defer unix.Close(fd)
		fds = append(fds, fd)
	}
	to := &unix.SockaddrInet4{Port: int(target.Port()), Addr: target.Addr().As4()}
	fmt.Println("ready")
	start := time.Now()
	var wg sync.WaitGroup
	procs := runtime.GOMAXPROCS(0)
	for g := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pkt [12 + 160]byte
			pkt[0], pkt[1] = 0x80, 8
			for i := 12; i < len(pkt); i++ {
				pkt[i] = 0xd5 // A-law silence
			}
			for tick := 1; time.Since(start) < d; tick++ {
				time.Sleep(time.Until(start.Add(time.Duration(tick) * 20 * time.Millisecond)))
				for i := g; i < len(fds); i += procs {
					binary.BigEndian.PutUint16(pkt[2:], uint16(tick))
					binary.BigEndian.PutUint32(pkt[4:], uint32(tick*160))
					binary.BigEndian.PutUint32(pkt[8:], uint32(i+1))
					_ = unix.Sendto(fds[i], pkt[:], 0, to)
				}
			}
		}()
	}
	wg.Wait()
}
