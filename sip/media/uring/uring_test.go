//go:build linux && (amd64 || arm64)

package uring

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newRing opens a ring or, where the kernel refuses io_uring, skips — but
// not under SC115_INTEROP=required (CI's kernel has it).
func newRing(t *testing.T, entries uint32) *Ring {
	t.Helper()
	r, err := New(entries)
	if errors.Is(err, ErrUnsupported) && os.Getenv("SC115_INTEROP") != "required" {
		t.Skipf("this kernel refuses io_uring: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// udpFD is a bound IPv4 UDP socket on loopback (port chosen by the kernel).
func udpFD(t *testing.T) (int, netip.AddrPort) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	t.Cleanup(func() { _ = unix.Close(fd) })
	return fd, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
}

// rawInet4 is ap in the kernel's sockaddr_in form.
func rawInet4(ap netip.AddrPort) unix.RawSockaddrInet4 {
	r := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ap.Addr().As4()}
	p := (*[2]byte)(unsafe.Pointer(&r.Port))
	p[0], p[1] = byte(ap.Port()>>8), byte(ap.Port())
	return r
}

// TestBatchSendsEachFromItsSocket: one Submit delivers every datagram with
// its own payload from its own socket's port; more datagrams than a batch
// holds go in several; the sockets and buffers may be reused at once.
func TestBatchSendsEachFromItsSocket(t *testing.T) {
	r := newRing(t, 64)
	if r.Cap() != 64 {
		t.Fatalf("Cap %d, want 64", r.Cap())
	}
	recv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	_ = recv.SetReadBuffer(1 << 20)
	dst := rawInet4(recv.LocalAddr().(*net.UDPAddr).AddrPort())

	const n = 150 // more than two batches
	want := map[uint16]string{}
	var fds []int
	for i := range n {
		fd, local := udpFD(t)
		fds = append(fds, fd)
		want[local.Port()] = fmt.Sprintf("frame %03d", i)
	}
	ports := map[int]uint16{}
	for i, fd := range fds {
		sa, _ := unix.Getsockname(fd)
		ports[i] = uint16(sa.(*unix.SockaddrInet4).Port)
	}
	pkt := make([]byte, 16)
	for i, fd := range fds {
		msg := want[ports[i]]
		copy(pkt, msg)
		if !r.Add(fd, pkt[:len(msg)], unsafe.Pointer(&dst), unix.SizeofSockaddrInet4) {
			if r.Len() != r.Cap() {
				t.Fatalf("Add refused with %d of %d queued", r.Len(), r.Cap())
			}
			if failed, err := r.Submit(); failed != 0 || err != nil {
				t.Fatalf("Submit: %d failed, %v", failed, err)
			}
			if !r.Add(fd, pkt[:len(msg)], unsafe.Pointer(&dst), unix.SizeofSockaddrInet4) {
				t.Fatal("Add refused after Submit")
			}
		}
		clear(pkt) // queued datagrams are copies
	}
	if failed, err := r.Submit(); failed != 0 || err != nil {
		t.Fatalf("Submit: %d failed, %v", failed, err)
	}
	if r.Len() != 0 {
		t.Fatalf("%d still queued after Submit", r.Len())
	}
	_ = recv.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	for range n {
		k, from, err := recv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", n-len(want), n, err)
		}
		w, ok := want[from.Port()]
		if !ok {
			t.Fatalf("datagram from %v: not one of the senders, or twice", from)
		}
		if got := string(buf[:k]); got != w {
			t.Fatalf("from port %d: %q, want %q", from.Port(), got, w)
		}
		delete(want, from.Port())
	}
}

// TestBatchCountsWhatTheKernelRefused: a datagram on a closed socket
// fails alone; the others of its batch still go, and the ring goes on.
func TestBatchCountsWhatTheKernelRefused(t *testing.T) {
	r := newRing(t, 8)
	recv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	dst := rawInet4(recv.LocalAddr().(*net.UDPAddr).AddrPort())
	good, _ := udpFD(t)
	bad, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = unix.Close(bad)
	for i, fd := range []int{good, bad, good} {
		if !r.Add(fd, []byte{byte('a' + i)}, unsafe.Pointer(&dst), unix.SizeofSockaddrInet4) {
			t.Fatal("Add refused")
		}
	}
	failed, err := r.Submit()
	if err != nil || failed != 1 {
		t.Fatalf("Submit: %d failed, %v; want 1 failed (the closed socket)", failed, err)
	}
	_ = recv.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 8)
	got := ""
	for range 2 {
		k, _, err := recv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += string(buf[:k])
	}
	if got != "ac" {
		t.Fatalf("received %q, want \"ac\"", got)
	}
	if r.Add(good, make([]byte, MaxPacket+1), unsafe.Pointer(&dst), unix.SizeofSockaddrInet4) {
		t.Fatal("Add took a datagram larger than MaxPacket")
	}
	if !r.Add(good, []byte("again"), unsafe.Pointer(&dst), unix.SizeofSockaddrInet4) {
		t.Fatal("the ring took nothing after a failed datagram")
	}
	if failed, err := r.Submit(); failed != 0 || err != nil {
		t.Fatalf("Submit: %d failed, %v", failed, err)
	}
}
