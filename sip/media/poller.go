package media

import (
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"
)

// poller receives RTP for the sessions registered with it: one epoll
// instance, level-triggered, readable events only, and one goroutine that
// reads every ready socket and handles the packets in place (relaying a
// bridged call's packet to the other leg from the same goroutine). The
// engine runs one poller per CPU. Compared with a goroutine per socket on
// Go's poller this saves, per packet, a goroutine wake-up and switch, and
// the writable-event churn every send caused (see udpSocket).
type poller struct {
	// file wraps the epoll descriptor for Go's own network poller: it is
	// readable when it has ready sockets, so the goroutine parks there
	// instead of sleeping in epoll_wait, which would hold its P (one of
	// GOMAXPROCS) for up to 10 ms before the runtime takes it back — long
	// enough to make the media clock, waiting for a P, miss its frames.
	file *os.File
	raw  syscall.RawConn
	// fds: the sessions by file descriptor. A descriptor closed and reused by a
	// new session at once maps to the new session, whose socket it then
	// is: a stale event reads the right socket or finds nothing.
	mu  sync.RWMutex
	fds map[int]polled
}

// polled is what a descriptor in the epoll set is: a session's RTP or its
// RTCP socket.
type polled struct {
	s    *Session
	rtcp bool
}

// pollerBatch is how many ready sockets one epoll_wait returns at most;
// pollerReadsPerWake is how many datagrams one socket may give per round
// before the others get their turn (level-triggered: the rest stays ready).
const (
	pollerBatch        = 256
	pollerReadsPerWake = 16
)

func newPoller() (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "rtp-epoll")
	raw, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &poller{file: f, raw: raw, fds: map[int]polled{}}, nil
}

// add registers s's RTP and RTCP sockets for readable events.
func (p *poller) add(s *Session) error {
	p.mu.Lock()
	p.fds[s.sock.fd] = polled{s: s}
	p.fds[s.rtcp.fd] = polled{s: s, rtcp: true}
	p.mu.Unlock()
	var err error
	if cerr := p.raw.Control(func(epfd uintptr) {
		for _, fd := range []int{s.sock.fd, s.rtcp.fd} {
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
			if err = unix.EpollCtl(int(epfd), unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
				return
			}
		}
	}); cerr != nil {
		err = cerr // the engine is closed
	}
	if err != nil {
		p.remove(s)
	}
	return err
}

// remove forgets s (its sockets leave the epoll set when they are closed).
func (p *poller) remove(s *Session) {
	fds := []int{s.sock.fd, s.rtcp.fd}
	p.mu.Lock()
	for _, fd := range fds {
		if p.fds[fd].s == s {
			delete(p.fds, fd)
		}
	}
	p.mu.Unlock()
	// Through Control: a closed engine's descriptor number may belong to
	// something else by now.
	_ = p.raw.Control(func(epfd uintptr) {
		for _, fd := range fds {
			_ = unix.EpollCtl(int(epfd), unix.EPOLL_CTL_DEL, fd, nil)
		}
	})
}

// ready returns the sockets readable right now, without blocking (and so
// without telling the scheduler about a system call that cannot block).
func ready(epfd uintptr, events []unix.EpollEvent) int {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, epfd, uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(n)
}

// run handles ready sockets until the poller is closed.
func (p *poller) run() {
	events := make([]unix.EpollEvent, pollerBatch)
	buf := make([]byte, 1500)
	scratch := make([]byte, 1500)
	var h rtp.Header
	for {
		n := 0
		err := p.raw.Read(func(epfd uintptr) bool {
			n = ready(epfd, events)
			return n > 0 // false: park until the epoll descriptor is readable
		})
		if err != nil {
			return // closed
		}
		for _, ev := range events[:n] {
			p.mu.RLock()
			e := p.fds[int(ev.Fd)]
			p.mu.RUnlock()
			s := e.s
			if s == nil {
				continue
			}
			if e.rtcp {
				for range pollerReadsPerWake {
					k, _, err := s.rtcp.readFrom(buf)
					if err != nil {
						break
					}
					s.countRTCP(buf[:k])
				}
				continue
			}
			for range pollerReadsPerWake {
				k, from, err := s.sock.readFrom(buf)
				if err != nil {
					break
				}
				s.handle(buf[:k], from, &h, scratch)
			}
		}
	}
}

// close stops run and releases the epoll descriptor.
func (p *poller) close() { _ = p.file.Close() }
