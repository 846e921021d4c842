package media

import (
	"errors"
	"sync"
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
	epfd int
	// sessions by file descriptor. A descriptor closed and reused by a
	// new session at once maps to the new session, whose socket it then
	// is: a stale event reads the right socket or finds nothing.
	mu       sync.RWMutex
	sessions map[int]*Session
}

// pollerBatch is how many ready sockets one epoll_wait returns at most;
// pollerReadsPerWake is how many datagrams one socket may give per round
// before the others get their turn (level-triggered: the rest stays ready).
const (
	pollerBatch        = 256
	pollerReadsPerWake = 16
	pollerWaitMS       = 200 // wake this often to notice a stop
)

func newPoller() (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &poller{epfd: fd, sessions: map[int]*Session{}}, nil
}

// add registers s's socket for readable events.
func (p *poller) add(s *Session) error {
	fd := s.sock.fd
	p.mu.Lock()
	p.sessions[fd] = s
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.remove(s)
		return err
	}
	return nil
}

// remove forgets s (its socket leaves the epoll set when it is closed).
func (p *poller) remove(s *Session) {
	fd := s.sock.fd
	p.mu.Lock()
	if p.sessions[fd] == s {
		delete(p.sessions, fd)
	}
	p.mu.Unlock()
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// ready returns the sockets readable right now, without blocking (and so
// without telling the scheduler about a system call that cannot block).
func (p *poller) ready(events []unix.EpollEvent) int {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(p.epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(n)
}

// run waits for readable sockets until stop and handles what they hold.
func (p *poller) run(stop <-chan struct{}) {
	events := make([]unix.EpollEvent, pollerBatch)
	buf := make([]byte, 1500)
	scratch := make([]byte, 1500)
	var h rtp.Header
	defer unix.Close(p.epfd)
	for {
		select {
		case <-stop:
			return
		default:
		}
		// While packets keep coming, look without blocking first: a
		// blocking wait gives up this goroutine's P and has to get one
		// back when it returns, a wait for the scheduler per batch.
		n := p.ready(events)
		var err error
		if n == 0 {
			n, err = unix.EpollWait(p.epfd, events, pollerWaitMS)
		}
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			p.mu.RLock()
			s := p.sessions[int(ev.Fd)]
			p.mu.RUnlock()
			if s == nil {
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
