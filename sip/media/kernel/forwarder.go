package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Forwarder is the loaded program, its map and its attachments.
type Forwarder struct {
	objs  forwardObjects
	links []link.Link
	// local holds this host's addresses: a peer there is reached by
	// delivering the rewritten packet up the stack.
	local map[netip.Addr]bool
	ifmu  sync.Mutex
	ifidx map[netip.Addr]int // remote peer → the interface its route leaves by
	// flowmu guards flows and perPort, the user-space side of the ports
	// map: which flows are in legs, and how many of them arrive at each
	// local port.
	flowmu  sync.Mutex
	flows   map[forwardFwdKey]struct{}
	perPort map[uint16]uint32
	// closeMu orders Close after every use of the maps: a leg's media
	// watchdog may still read its counters while the engine shuts down,
	// and a closed map's descriptor must not be used (or reused).
	closeMu sync.RWMutex
	closed  bool
}

// ErrClosed says the forwarder was closed.
var ErrClosed = errors.New("kernel forwarder closed")

// use holds off Close until done is called; false if it was closed.
func (f *Forwarder) use() (done func(), ok bool) {
	f.closeMu.RLock()
	if f.closed {
		f.closeMu.RUnlock()
		return nil, false
	}
	return f.closeMu.RUnlock, true
}

// Flow is a packet as it arrives at a leg: the leg's own socket and the
// peer latched on it.
type Flow struct{ Local, Remote netip.AddrPort }

// Route is how a flow's packets leave: from the other leg's socket to that
// leg's peer, rewritten to continue that leg's stream.
type Route struct {
	From, To netip.AddrPort
	InSSRC   uint32 // the source whose packets this route takes
	OutSSRC  uint32 // the outgoing leg's SSRC
	SeqOff   uint16 // added to the sequence number
	TSOff    uint32 // added to the timestamp
	InPT     uint8  // the only payload type forwarded (the audio codec's)
	OutPT    uint8  // its number on the outgoing leg
	// Sink counts the flow's audio and drops it (a leg bridged to no one):
	// only InSSRC and InPT matter then.
	Sink bool
}

// Counters are what the program counted for one flow since it was put.
type Counters struct {
	Packets, Octets uint64
	Last            time.Time // when the last packet was forwarded; zero if none
	LastSeq         uint16    // the outgoing sequence number and timestamp of it
	LastTS          uint32
}

// ErrUnsupported says this kernel or process cannot run the forwarder
// (no CAP_BPF/CAP_NET_ADMIN, no tcx, no IPv4 media address).
var ErrUnsupported = errors.New("kernel forwarding unsupported")

// Open loads the program and attaches it to tcx ingress of the loopback
// interface (where every packet between local addresses passes) and of
// every interface that owns ip. The caller must Close it.
func Open(ip netip.Addr) (*Forwarder, error) {
	if !ip.Unmap().Is4() {
		return nil, fmt.Errorf("%w: media address %s is not IPv4", ErrUnsupported, ip)
	}
	_ = rlimit.RemoveMemlock() // kernels before 5.11 account BPF maps against it
	f := &Forwarder{local: map[netip.Addr]bool{}, ifidx: map[netip.Addr]int{}, flows: map[forwardFwdKey]struct{}{}, perPort: map[uint16]uint32{}}
	if err := loadForwardObjects(&f.objs, nil); err != nil {
		return nil, fmt.Errorf("%w: loading the program: %v", ErrUnsupported, err)
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		f.Close()
		return nil, err
	}
	for _, ifc := range ifaces {
		attach := ifc.Flags&net.FlagLoopback != 0
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				f.local[p.Addr().Unmap()] = true
				attach = attach || p.Addr().Unmap() == ip.Unmap()
			}
		}
		if !attach {
			continue
		}
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: f.objs.ForwardRtp, Attach: ebpf.AttachTCXIngress})
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%w: attaching to %s: %v", ErrUnsupported, ifc.Name, err)
		}
		f.links = append(f.links, l)
	}
	if len(f.links) == 0 {
		f.Close()
		return nil, fmt.Errorf("%w: no loopback interface", ErrUnsupported)
	}
	return f, nil
}

// Close detaches the program and frees its maps, once every use in
// progress is over; afterwards Put fails with ErrClosed and Read, Remove
// and Live find nothing. Closing twice is harmless.
func (f *Forwarder) Close() {
	f.closeMu.Lock()
	defer f.closeMu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	for _, l := range f.links {
		_ = l.Close()
	}
	_ = f.objs.Close()
}

// Put makes the kernel forward fl by r from now on (replacing any route
// it had, and its counters).
func (f *Forwarder) Put(fl Flow, r Route) error {
	k, ok := key(fl)
	if r.Sink {
		r.From, r.To = fl.Local, fl.Remote
	}
	if !ok || !r.From.Addr().Unmap().Is4() || !r.To.Addr().Unmap().Is4() {
		return fmt.Errorf("%w: not IPv4", ErrUnsupported)
	}
	var ssrc [4]byte
	binary.BigEndian.PutUint32(ssrc[:], r.OutSSRC)
	var in [4]byte
	binary.BigEndian.PutUint32(in[:], r.InSSRC)
	v := forwardFwdVal{SrcIp: ip4(r.From.Addr()), DstIp: ip4(r.To.Addr()), SrcPort: port(r.From.Port()), DstPort: port(r.To.Port()),
		InSsrc: binary.NativeEndian.Uint32(in[:]), OutSsrc: binary.NativeEndian.Uint32(ssrc[:]), TsOff: r.TSOff, SeqOff: r.SeqOff,
		InPt: r.InPT, OutPt: r.OutPT}
	if r.Sink {
		v.Sink = 1
	} else {
		i, ok := f.ifindex(r.To.Addr().Unmap())
		if !ok {
			return fmt.Errorf("%w: no route to %s", ErrUnsupported, r.To.Addr())
		}
		v.Ifindex = uint32(i)
	}
	done, open := f.use()
	if !open {
		return ErrClosed
	}
	defer done()
	f.flowmu.Lock()
	defer f.flowmu.Unlock()
	_, known := f.flows[k]
	if !known {
		// The port first, so that the route's first packet finds it.
		if err := f.countPort(fl.Local.Port(), +1); err != nil {
			return err
		}
	}
	if err := f.objs.Legs.Put(&k, &v); err != nil {
		if !known {
			_ = f.countPort(fl.Local.Port(), -1)
		}
		return err
	}
	f.flows[k] = struct{}{}
	return nil
}

// countPort adds d to the flows arriving at local port p, and tells the
// program when that number becomes or stops being zero (flowmu held).
func (f *Forwarder) countPort(p uint16, d int) error {
	n := uint32(int(f.perPort[p]) + d)
	if (n == 0) != (f.perPort[p] == 0) {
		if err := f.objs.Ports.Put(uint32(p), n); err != nil {
			return err
		}
	}
	if n == 0 {
		delete(f.perPort, p)
	} else {
		f.perPort[p] = n
	}
	return nil
}

// Read returns fl's counters so far, false if the kernel has no route for it.
func (f *Forwarder) Read(fl Flow) (Counters, bool) {
	k, ok := key(fl)
	if !ok {
		return Counters{}, false
	}
	done, open := f.use()
	if !open {
		return Counters{}, false
	}
	defer done()
	var v forwardFwdVal
	if f.objs.Legs.Lookup(&k, &v) != nil {
		return Counters{}, false
	}
	return counters(&v), true
}

// Remove ends the kernel's forwarding of fl and returns its counters; the
// next packet of fl goes to user space.
func (f *Forwarder) Remove(fl Flow) (Counters, bool) {
	k, ok := key(fl)
	var v forwardFwdVal
	if !ok {
		return Counters{}, false
	}
	done, open := f.use()
	if !open {
		return Counters{}, false
	}
	defer done()
	f.flowmu.Lock()
	defer f.flowmu.Unlock()
	if f.objs.Legs.LookupAndDelete(&k, &v) != nil {
		return Counters{}, false
	}
	if _, known := f.flows[k]; known {
		delete(f.flows, k)
		_ = f.countPort(fl.Local.Port(), -1)
	}
	return counters(&v), true
}

// Live sums the packets of the routes in the kernel now: those forwarded
// to another leg, and those a sink counted and dropped.
func (f *Forwarder) Live() (forwarded, sunk uint64) {
	done, open := f.use()
	if !open {
		return 0, 0
	}
	defer done()
	var k forwardFwdKey
	var v forwardFwdVal
	it := f.objs.Legs.Iterate()
	for it.Next(&k, &v) {
		if v.Sink != 0 {
			sunk += v.Packets
		} else {
			forwarded += v.Packets
		}
	}
	return forwarded, sunk
}

// ifindex is the interface the kernel redirects a packet for peer out of,
// 0 for a local peer (delivered up the stack); false if no interface
// could be found (the flow then stays in user space). A connected UDP
// socket asks the routing table which local address reaches the peer; the
// interface owning that address is the one (cached per peer).
func (f *Forwarder) ifindex(peer netip.Addr) (int, bool) {
	if f.local[peer] || peer.IsLoopback() {
		return 0, true
	}
	f.ifmu.Lock()
	defer f.ifmu.Unlock()
	if i, ok := f.ifidx[peer]; ok {
		return i, i != 0
	}
	i := 0
	if c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, 9))); err == nil {
		src := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		_ = c.Close()
		ifaces, _ := net.Interfaces()
		for _, ifc := range ifaces {
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == src {
					i = ifc.Index
				}
			}
		}
	}
	f.ifidx[peer] = i
	return i, i != 0
}

func key(fl Flow) (forwardFwdKey, bool) {
	if !fl.Local.Addr().Unmap().Is4() || !fl.Remote.Addr().Unmap().Is4() {
		return forwardFwdKey{}, false
	}
	return forwardFwdKey{LocalIp: ip4(fl.Local.Addr()), RemoteIp: ip4(fl.Remote.Addr()), LocalPort: port(fl.Local.Port()), RemotePort: port(fl.Remote.Port())}, true
}

// ip4 and port give an address and a port in network byte order as the
// program compares them (the map stores host-order integers).
func ip4(a netip.Addr) uint32 {
	b := a.Unmap().As4()
	return binary.NativeEndian.Uint32(b[:])
}

func port(p uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], p)
	return binary.NativeEndian.Uint16(b[:])
}

func counters(v *forwardFwdVal) Counters {
	c := Counters{Packets: v.Packets, Octets: v.Octets, LastSeq: v.LastSeq, LastTS: v.LastTs}
	if v.Packets > 0 {
		var now unix.Timespec
		if unix.ClockGettime(unix.CLOCK_MONOTONIC, &now) == nil {
			c.Last = time.Now().Add(-time.Duration(now.Nano() - int64(v.LastNs)))
		}
	}
	return c
}

// FlowsAt is how many flows the kernel takes at local port p (for logs:
// a leg whose audio the kernel takes while the leg does not know it).
func (f *Forwarder) FlowsAt(p uint16) int {
	f.flowmu.Lock()
	defer f.flowmu.Unlock()
	return int(f.perPort[p])
}
