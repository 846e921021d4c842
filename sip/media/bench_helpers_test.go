package media

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cpuMeter starts measuring this process' CPU time (user + system); the
// returned function says how much was used since.
func cpuMeter() func() time.Duration {
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	return func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	}
}

// machineMeter starts measuring the whole machine's busy CPU time (all
// processes, the kernel's softirq work included: with kernel forwarding a
// relayed packet's cost lands in whichever context the kernel handles it,
// mostly the sender's sendto on loopback, not in sc115's process).
func machineMeter() func() time.Duration {
	busy := func() time.Duration {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0
		}
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
		var total int64
		for i := 1; i < len(f) && i <= 8; i++ {
			if i == 4 || i == 5 {
				continue // idle, iowait
			}
			v, _ := strconv.ParseInt(f[i], 10, 64)
			total += v
		}
		return time.Duration(total) * time.Second / 100 // USER_HZ
	}
	b0 := busy()
	return func() time.Duration { return busy() - b0 }
}

// quantilesMS sorts d and returns the requested quantiles (0…1) in ms.
func quantilesMS(d []time.Duration, ps ...float64) []float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	out := make([]float64, len(ps))
	for i, p := range ps {
		if len(d) > 0 {
			out[i] = float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds()) / 1000
		}
	}
	return out
}

// tsConn is a benchmark's receiving UDP socket that gets each datagram's arrival time from the kernel
// (SO_TIMESTAMPNS): the time the packet reached the socket, not when a
// busy receiver got round to reading it — so what is measured is the
// sender, not the measuring process' own scheduling.
type tsConn struct {
	conn *net.UDPConn
	buf  [1500]byte
	oob  [64]byte
}

func listenTS() (*tsConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(8 << 20)
	_ = c.SetWriteBuffer(8 << 20)
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return nil, fmt.Errorf("SO_TIMESTAMPNS: %v %v", err, serr)
	}
	return &tsConn{conn: c}, nil
}

// read waits up to wait for one datagram and calls f with its payload,
// the kernel's arrival time and its source; false on timeout or error.
func (t *tsConn) read(wait time.Duration, f func(b []byte, at time.Time, from netip.AddrPort)) bool {
	_ = t.conn.SetReadDeadline(time.Now().Add(wait))
	n, oobn, _, from, err := t.conn.ReadMsgUDPAddrPort(t.buf[:], t.oob[:])
	if err != nil {
		return false
	}
	at := time.Now()
	// One control message: struct cmsghdr (len, level, type) then a
	// struct timespec; read in place, without allocating.
	if oob := t.oob[:oobn]; len(oob) >= unix.SizeofCmsghdr+16 {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.SizeofCmsghdr]))
			at = time.Unix(ts.Unix())
		}
	}
	f(t.buf[:n], at, from)
	return true
}

// readUntil reads until stop is closed.
func (t *tsConn) readUntil(stop <-chan struct{}, f func(b []byte, at time.Time, from netip.AddrPort)) {
	for {
		if !t.read(200*time.Millisecond, f) {
			select {
			case <-stop:
				return
			default:
			}
		}
	}
}
