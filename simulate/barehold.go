package simulate

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// BareHold is the callers' side of a hold measurement without sc115: the
// physical limit a paced sender reaches on this machine, measured the way
// Run with Config.MeasureHold measures sc115. It opens the callers' media
// port (kernel receive timestamps), says its address by ready — the
// sender must send each peer's frames there, from the peer's own address
// — and streams caller audio to every peer every 20 ms, as a caller on
// hold does. Once every peer has sent a frame the window opens (opened is
// called then); it closes when ctx ends, and BareHold returns the pacing it measured and how many
// times its own clock fell behind (a measurement that spoils).
func BareHold(ctx context.Context, peers []netip.AddrPort, ready func(netip.AddrPort), opened func()) (HoldPacing, int64, error) {
	if len(peers) == 0 {
		return HoldPacing{}, 0, errors.New("simulate: bare hold needs peers")
	}
	m, err := newMediaPort(true)
	if err != nil {
		return HoldPacing{}, 0, err
	}
	return bareHold(ctx, m, peers, ready, opened), m.late.Load(), nil
}

// bareHold is BareHold on an open port, which it closes.
func bareHold(ctx context.Context, m *mediaPort, peers []netip.AddrPort, ready func(netip.AddrPort), opened func()) HoldPacing {
	defer m.close()
	streams := make([]*stream, len(peers))
	for i, p := range peers {
		// agentFrame is never sent by a bare sender: every frame it sends
		// counts as generated audio.
		streams[i] = m.newStream(callerFrame, agentFrame, 8)
		m.attach(streams[i], p)
		streams[i].sending.Store(true)
	}
	ready(m.addr)
	// Wait for the event (every peer heard), however long this machine
	// takes to start the sender; ctx bounds it.
	tick := time.NewTicker(50 * time.Millisecond)
	for m.paced.Load() < int64(len(peers)) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	tick.Stop()
	m.openWindow()
	if ctx.Err() == nil {
		opened()
	}
	<-ctx.Done()
	m.closeWindow()
	for _, st := range streams {
		m.detach(st)
	}
	m.close() // the reader stops: the pacing records are final
	return holdPacing(m.held, m.windowFrom.Load(), m.windowTo.Load())
}
