package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
)

// portAllocator hands out even RTP ports from a range, each at a random
// place (and the next free one from there): a third party who saw one
// call's port cannot tell the next call's. It takes no lock.
type portAllocator struct {
	ip    netip.Addr
	low   int // first even port
	pairs int // number of even ports in the range
}

func newPortAllocator(ip netip.Addr, low, high int) *portAllocator {
	if low%2 == 1 {
		low++
	}
	pairs := (high - low + 1) / 2
	return &portAllocator{ip: ip, low: low, pairs: pairs}
}

// listen binds the next free pair: RTP on an even port, RTCP on the odd
// one above it (the SDP default, so no a=rtcp line is needed). Both are
// read by the engine's pollers (udpSocket): RTCP, one packet every few
// seconds, costs no goroutine of its own.
func (a *portAllocator) listen() (rtp, rtcp *udpSocket, err error) {
	if a.pairs <= 0 {
		return nil, nil, errors.New("rtp port range holds no even port")
	}
	start := rand.IntN(a.pairs) // math/rand/v2's generator is ChaCha8, seeded from the OS
	for try := 0; try < a.pairs; try++ {
		port := a.low + 2*((start+try)%a.pairs)
		// Room for bursts: 256 KB each way.
		sock, err := listenUDPSocket(a.ip, port, 256<<10)
		if err != nil {
			continue
		}
		ctl, err := listenUDPSocket(a.ip, port+1, 16<<10)
		if err != nil {
			sock.close()
			continue
		}
		return sock, ctl, nil
	}
	return nil, nil, fmt.Errorf("no free RTP/RTCP port pair in %d-%d", a.low, a.low+2*a.pairs-1)
}
