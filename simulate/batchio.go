package simulate

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSize is how many datagrams one recvmmsg or sendmmsg moves. The
// generator's sockets carry every leg of a side (5,000 hold streams are
// 250,000 datagrams a second each way): one system call a datagram was
// what made it fall behind before sc115 did.
const batchSize = 64

// mmsghdr is struct mmsghdr (64-bit Linux): unix.Msghdr and the count the
// kernel fills in.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// batchConn reads and writes batches of datagrams on a UDP socket through
// Go's poller (it waits for readiness as the net package does).
type batchConn struct {
	raw syscall.RawConn

	rhdrs  []mmsghdr
	riov   []unix.Iovec
	rnames []unix.RawSockaddrInet6
	rbufs  [][]byte
	roobs  [][]byte

	whdrs  []mmsghdr
	wiov   []unix.Iovec
	wnames []unix.RawSockaddrInet6
	wbufs  [][]byte
	queued int
}

// newBatchConn prepares c for batches; bufLen and oobLen are the room for
// each received datagram and its control data.
func newBatchConn(c *net.UDPConn, bufLen, oobLen int) (*batchConn, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &batchConn{raw: raw,
		rhdrs: make([]mmsghdr, batchSize), riov: make([]unix.Iovec, batchSize), rnames: make([]unix.RawSockaddrInet6, batchSize),
		whdrs: make([]mmsghdr, batchSize), wiov: make([]unix.Iovec, batchSize), wnames: make([]unix.RawSockaddrInet6, batchSize)}
	for i := range batchSize {
		b.rbufs = append(b.rbufs, make([]byte, bufLen))
		b.roobs = append(b.roobs, make([]byte, max(oobLen, 1)))
		b.riov[i].Base, b.riov[i].Len = &b.rbufs[i][0], uint64(bufLen)
		h := &b.rhdrs[i].hdr
		h.Name, h.Iov, h.Iovlen = (*byte)(unsafe.Pointer(&b.rnames[i])), &b.riov[i], 1
		if oobLen > 0 {
			h.Control = &b.roobs[i][0]
		}
		b.wbufs = append(b.wbufs, make([]byte, 0, 1500))
		w := &b.whdrs[i].hdr
		w.Name, w.Iov, w.Iovlen = (*byte)(unsafe.Pointer(&b.wnames[i])), &b.wiov[i], 1
	}
	return b, nil
}

// datagram is one received datagram: valid until the next read.
type datagram struct {
	data []byte
	oob  []byte
	from netip.AddrPort
}

// read waits for datagrams and returns up to batchSize of them in into.
func (b *batchConn) read(into []datagram) ([]datagram, error) {
	for i := range b.rhdrs {
		b.rhdrs[i].hdr.Namelen = uint32(unsafe.Sizeof(b.rnames[i]))
		if b.rhdrs[i].hdr.Control != nil {
			b.rhdrs[i].hdr.Controllen = uint64(len(b.roobs[i]))
		}
	}
	var n uintptr
	var errno syscall.Errno
	err := b.raw.Read(func(fd uintptr) bool {
		n, _, errno = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.rhdrs[0])), uintptr(len(b.rhdrs)), unix.MSG_DONTWAIT, 0, 0)
		return errno != unix.EAGAIN
	})
	if err != nil {
		return into, err
	}
	if errno != 0 {
		return into, errno
	}
	for i := range int(n) {
		h := &b.rhdrs[i]
		into = append(into, datagram{data: b.rbufs[i][:h.n], oob: b.roobs[i][:h.hdr.Controllen], from: sockaddrToAddrPort(&b.rnames[i])})
	}
	return into, nil
}

// queue adds a datagram for the next flush (which it runs when the batch
// is full).
func (b *batchConn) queue(pkt []byte, to netip.AddrPort) error {
	if b.queued == batchSize {
		if err := b.flush(); err != nil {
			return err
		}
	}
	i := b.queued
	b.wbufs[i] = append(b.wbufs[i][:0], pkt...)
	b.wiov[i].Base, b.wiov[i].Len = &b.wbufs[i][0], uint64(len(pkt))
	b.whdrs[i].hdr.Namelen = putSockaddr(&b.wnames[i], to)
	b.queued++
	return nil
}

// flush sends what is queued, waiting while the send buffer is full.
func (b *batchConn) flush() error {
	for off := 0; off < b.queued; {
		var n uintptr
		var errno syscall.Errno
		err := b.raw.Write(func(fd uintptr) bool {
			n, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.whdrs[off])), uintptr(b.queued-off), unix.MSG_DONTWAIT, 0, 0)
			return errno != unix.EAGAIN
		})
		if err != nil {
			b.queued = 0
			return err
		}
		if errno != 0 {
			off++ // a datagram the kernel refused (its peer unreachable): skip it
			continue
		}
		off += int(n)
	}
	b.queued = 0
	return nil
}

// putSockaddr writes ap as an IPv4 (or IPv6) sockaddr and returns its size.
func putSockaddr(raw *unix.RawSockaddrInet6, ap netip.AddrPort) uint32 {
	port := ap.Port()
	if a := ap.Addr().Unmap(); a.Is4() {
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
		r.Family, r.Addr = unix.AF_INET, a.As4()
		p := (*[2]byte)(unsafe.Pointer(&r.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return unix.SizeofSockaddrInet4
	}
	raw.Family, raw.Addr = unix.AF_INET6, ap.Addr().As16()
	p := (*[2]byte)(unsafe.Pointer(&raw.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return unix.SizeofSockaddrInet6
}

// sockaddrToAddrPort reads a source address the kernel filled in.
func sockaddrToAddrPort(raw *unix.RawSockaddrInet6) netip.AddrPort {
	p := (*[2]byte)(unsafe.Pointer(&raw.Port))
	port := uint16(p[0])<<8 | uint16(p[1])
	switch raw.Family {
	case unix.AF_INET:
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
		return netip.AddrPortFrom(netip.AddrFrom4(r.Addr), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(raw.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}
