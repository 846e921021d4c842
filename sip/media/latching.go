package media

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"
)

// latchMode is media.latching, decided once so the per-packet check
// compares a byte.
type latchMode uint8

const (
	latchSignalledIP latchMode = iota
	latchStrict
	latchAny
)

func parseLatching(s string) (latchMode, error) {
	switch s {
	case LatchSignalledIP, "":
		return latchSignalledIP, nil
	case LatchStrict:
		return latchStrict, nil
	case LatchAny:
		return latchAny, nil
	}
	return 0, fmt.Errorf("media latching %q is not one of signalled-ip, strict, any", s)
}

// foreignLog limits the log of dropped foreign packets to one line a
// second per engine: a flood must not become a flood of log lines (the
// metric counts every packet).
type foreignLog struct{ last atomic.Int64 }

// foreign counts a packet from an address the leg's signalling did not
// name and logs it now and then.
func (e *Engine) foreign(from, local netip.AddrPort) {
	e.m.foreign.Inc()
	now := time.Now().UnixNano()
	last := e.foreignLog.last.Load()
	if now-last < int64(time.Second) || !e.foreignLog.last.CompareAndSwap(last, now) {
		return
	}
	e.log.Warn().Str("from", from.String()).Str("leg", local.String()).
		Msg("RTP from an address the signalling did not name: dropped (counted in sc115_media_foreign_packets_dropped_total; one line a second)")
}
