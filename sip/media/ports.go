package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
)

// portAllocator hands out even RTP ports from a range. It walks the range
// from a random start with an atomic cursor, so allocation takes no lock and
// a released port is reused only after the cursor has gone round the whole
// range: late packets of a closed call rarely reach the next one.
type portAllocator struct {
	ip     netip.Addr
	low    int // first even port
	pairs  int // number of even ports in the range
	cursor atomic.Uint64
}

func newPortAllocator(ip netip.Addr, low, high int) *portAllocator {
	if low%2 == 1 {
		low++
	}
	pairs := (high - low + 1) / 2
	a := &portAllocator{ip: ip, low: low, pairs: pairs}
	a.cursor.Store(uint64(rand.IntN(max(pairs, 1))))
	return a
}

// listen binds the next free pair: RTP on an even port, RTCP on the odd
// one above it (the SDP default, so no a=rtcp line is needed).
// RTP goes through the engine's pollers (udpSocket); RTCP, one packet
// every few seconds, through Go's own network poller.
func (a *portAllocator) listen() (rtp *udpSocket, rtcp *net.UDPConn, err error) {
	if a.pairs <= 0 {
		return nil, nil, errors.New("rtp port range holds no even port")
	}
	for try := 0; try < a.pairs; try++ {
		n := a.cursor.Add(1)
		port := a.low + 2*int(n%uint64(a.pairs))
		// Room for bursts: 256 KB each way.
		sock, err := listenUDPSocket(a.ip, port, 256<<10)
		if err != nil {
			continue
		}
		ctl, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.ip, uint16(port+1))))
		if err != nil {
			sock.close()
			continue
		}
		return sock, ctl, nil
	}
	return nil, nil, fmt.Errorf("no free RTP/RTCP port pair in %d-%d", a.low, a.low+2*a.pairs-1)
}
