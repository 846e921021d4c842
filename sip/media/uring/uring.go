//go:build linux && (amd64 || arm64)

// Package uring sends batches of UDP datagrams, each from a socket of its
// own to a destination of its own, with one io_uring_enter system call per
// batch instead of one sendto per datagram.
//
// It is the smallest io_uring that does this, written over
// golang.org/x/sys/unix because no io_uring library is served to this
// project (giouring, iouring-go, go-uring: none on the module proxy): one
// submission ring, IORING_OP_SENDMSG only, and every request completed
// before Submit returns, so that the caller may reuse whatever it queued
// (sockets, buffers) at once. The messages, their addresses and payloads
// are copied into memory mapped outside Go's heap, so the kernel never
// reads a Go pointer.
//
// Why not sendmmsg: it sends many datagrams from one socket, and every RTP
// leg has a socket (and a port) of its own, which its peer's latching and
// symmetric RTP require.
package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxPacket is the largest datagram a batch takes; a larger one must be
// sent on its own (RTP of G.711 or G.722 at 20 ms is 172 bytes, 182 with
// SRTP's tag).
const MaxPacket = 512

// ErrUnsupported: the kernel or the process does not allow io_uring
// (ENOSYS; EPERM where kernel.io_uring_disabled or seccomp forbid it).
var ErrUnsupported = errors.New("io_uring unavailable")

const (
	opSendmsg      = 9      // IORING_OP_SENDMSG
	enterGetevents = 1 << 0 // IORING_ENTER_GETEVENTS
	setupClamp     = 1 << 4 // IORING_SETUP_CLAMP
	setupSubmitAll = 1 << 7 // IORING_SETUP_SUBMIT_ALL (5.18): a failing request does not stop the rest
	featSingleMmap = 1 << 0 // IORING_FEAT_SINGLE_MMAP
	offSQRing      = 0
	offCQRing      = 0x8000000
	offSQEs        = 0x10000000
)

// The kernel's structures (include/uapi/linux/io_uring.h), 64-bit layout.
type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	msgFlags    uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	pad         uint64
}

type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// msghdr and iovec as the kernel reads them, with addresses as integers:
// they point into the ring's own mapped memory, never into Go's heap.
type msghdr struct {
	name       uint64
	namelen    uint32
	_          uint32
	iov        uint64
	iovlen     uint64
	control    uint64
	controllen uint64
	flags      int32
	_          int32
}

type iovec struct{ base, len uint64 }

// slot is one queued datagram: its message, payload vector, destination
// and payload, side by side in the mapped arena.
type slot struct {
	msg  msghdr
	iov  iovec
	addr [32]byte // a sockaddr_in6 (28 bytes) or sockaddr_in
	buf  [MaxPacket]byte
}

// Ring is one submission and completion queue pair with room for Cap
// queued datagrams. It is not safe for concurrent use: each sender owns
// one.
type Ring struct {
	fd     int
	rings  []byte // the SQ and CQ rings (one mapping, or the SQ's alone)
	cqRing []byte // the CQ ring's own mapping on kernels without SINGLE_MMAP
	sqeMem []byte
	arena  []byte

	sqTail *uint32
	sqMask uint32
	sqes   []sqe
	cqHead *uint32
	cqTail *uint32
	cqMask uint32
	cqes   []cqe
	slots  []slot

	queued int
	tail   uint32 // our copy of the SQ tail (we are its only writer)
}

// New sets up a ring for batches of up to entries datagrams (rounded up to
// a power of two by the kernel).
func New(entries uint32) (*Ring, error) {
	var p params
	p.flags = setupClamp | setupSubmitAll
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno == unix.EINVAL { // before 5.18: no SUBMIT_ALL
		p = params{flags: setupClamp}
		fd, _, errno = unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	}
	switch errno {
	case 0:
	case unix.ENOSYS, unix.EPERM, unix.EACCES:
		return nil, fmt.Errorf("%w: io_uring_setup: %v", ErrUnsupported, errno)
	default:
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &Ring{fd: int(fd)}
	if err := r.mapRings(&p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// mapRings maps the rings, the request array and the arena of slots.
func (r *Ring) mapRings(p *params) error {
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	if p.features&featSingleMmap != 0 {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.rings, err = unix.Mmap(r.fd, offSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fmt.Errorf("io_uring: map the rings: %w", err)
	}
	cq := r.rings
	if p.features&featSingleMmap == 0 {
		if r.cqRing, err = unix.Mmap(r.fd, offCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
			return fmt.Errorf("io_uring: map the completion ring: %w", err)
		}
		cq = r.cqRing
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(sqe{}))
	if r.sqeMem, err = unix.Mmap(r.fd, offSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fmt.Errorf("io_uring: map the requests: %w", err)
	}
	arenaSize := int(p.sqEntries) * int(unsafe.Sizeof(slot{}))
	if r.arena, err = unix.Mmap(-1, 0, arenaSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE); err != nil {
		return fmt.Errorf("io_uring: map the arena: %w", err)
	}
	r.sqTail = (*uint32)(unsafe.Pointer(&r.rings[p.sqOff.tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&r.rings[p.sqOff.ringMask]))
	r.tail = atomic.LoadUint32(r.sqTail)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	array := unsafe.Slice((*uint32)(unsafe.Pointer(&r.rings[p.sqOff.array])), p.sqEntries)
	for i := range array {
		array[i] = uint32(i) // request i sits at index i, always
	}
	r.cqHead = (*uint32)(unsafe.Pointer(&cq[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&cq[p.cqOff.tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&cq[p.cqOff.ringMask]))
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	r.slots = unsafe.Slice((*slot)(unsafe.Pointer(&r.arena[0])), p.sqEntries)
	for i := range r.slots {
		s := &r.slots[i]
		s.msg.name = uint64(uintptr(unsafe.Pointer(&s.addr[0])))
		s.msg.iov = uint64(uintptr(unsafe.Pointer(&s.iov)))
		s.msg.iovlen = 1
		s.iov.base = uint64(uintptr(unsafe.Pointer(&s.buf[0])))
	}
	return nil
}

// Cap is how many datagrams fit in one batch.
func (r *Ring) Cap() int { return len(r.slots) }

// Len is how many are queued.
func (r *Ring) Len() int { return r.queued }

// Add queues pkt to be sent from socket fd to the sockaddr at addr (its
// kernel form, addrLen bytes). It copies both, so the caller may reuse
// them at once; the caller must keep fd open until Submit returns. False:
// the batch is full (Submit first) or pkt is larger than MaxPacket.
func (r *Ring) Add(fd int, pkt []byte, addr unsafe.Pointer, addrLen uint32) bool {
	if r.queued == len(r.slots) || len(pkt) > MaxPacket || addrLen > 32 {
		return false
	}
	i := r.tail & r.sqMask
	s := &r.slots[i]
	s.iov.len = uint64(copy(s.buf[:], pkt))
	copy(s.addr[:addrLen], unsafe.Slice((*byte)(addr), addrLen))
	s.msg.namelen = addrLen
	r.sqes[i] = sqe{
		opcode: opSendmsg,
		fd:     int32(fd),
		addr:   uint64(uintptr(unsafe.Pointer(&s.msg))),
		len:    1,
		// MSG_DONTWAIT: a full send buffer fails the request at once
		// (EAGAIN, a dropped frame as with sendto) instead of parking it
		// in the kernel past Submit.
		msgFlags: unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL,
		userData: uint64(i),
	}
	r.tail++
	r.queued++
	return true
}

// Submit sends every queued datagram with one io_uring_enter (more only if
// the kernel takes fewer at once) and waits until all have completed.
// failed counts the datagrams the kernel refused (EAGAIN for a full send
// buffer, EBADF, ...); err is set only when the ring itself failed, and
// then it must not be used again.
func (r *Ring) Submit() (failed int, err error) {
	n := r.queued
	if n == 0 {
		return 0, nil
	}
	atomic.StoreUint32(r.sqTail, r.tail)
	for left := n; left > 0; {
		got, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(left), 0, 0, 0, 0)
		switch errno {
		case 0:
			if got == 0 {
				return 0, errors.New("io_uring_enter took none of the queued requests")
			}
			left -= int(got)
		case unix.EINTR, unix.EAGAIN, unix.EBUSY:
		default:
			return 0, fmt.Errorf("io_uring_enter: %w", errno)
		}
	}
	r.queued = 0
	return r.reap(n)
}

// reap takes n completions, waiting for those not yet posted.
func (r *Ring) reap(n int) (failed int, err error) {
	head := atomic.LoadUint32(r.cqHead)
	for n > 0 {
		for tail := atomic.LoadUint32(r.cqTail); head != tail && n > 0; head++ {
			if r.cqes[head&r.cqMask].res < 0 {
				failed++
			}
			n--
		}
		atomic.StoreUint32(r.cqHead, head)
		if n == 0 {
			break
		}
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 0, uintptr(n), enterGetevents, 0, 0)
		if errno != 0 && errno != unix.EINTR && errno != unix.EAGAIN {
			return failed, fmt.Errorf("io_uring_enter (wait): %w", errno)
		}
	}
	return failed, nil
}

// Close releases the ring. Only after a Submit that returned (or none).
func (r *Ring) Close() {
	for _, m := range [][]byte{r.rings, r.cqRing, r.sqeMem, r.arena} {
		if m != nil {
			_ = unix.Munmap(m)
		}
	}
	r.rings, r.cqRing, r.sqeMem, r.arena, r.slots, r.sqes, r.cqes = nil, nil, nil, nil, nil, nil, nil
	if r.fd > 0 {
		_ = unix.Close(r.fd)
		r.fd = -1
	}
}
