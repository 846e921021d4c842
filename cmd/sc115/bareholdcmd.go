package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/sc115/sc115/simulate"
)

// simulateBareHold: sc115 simulate --bare-hold HOST:LOW-HIGH — the callers'
// side of a hold measurement against a bare paced sender (one socket a
// caller on those ports), the physical limit beside sc115's run.
func simulateBareHold(spec string) int {
	peers, err := parsePortRange(spec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sc115 simulate: --bare-hold %q: %v\n", spec, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	h, late, err := simulate.BareHold(ctx, peers, func(at netip.AddrPort) {
		fmt.Printf("bare hold: %d callers, send to %s\n", len(peers), at)
	}, func() { fmt.Println("bare hold: every caller heard, measuring until interrupted") })
	if err != nil {
		fmt.Fprintln(os.Stderr, "sc115 simulate:", err)
		return 1
	}
	fmt.Printf("media: the generator's clock fell behind %d times\n", late)
	printHold(h, fmt.Sprintf("the %.1f s after every caller had been heard", h.Window.Seconds()))
	return 0
}

// printHold is the report's hold line (the benchmarks read it).
func printHold(h simulate.HoldPacing, over string) {
	fmt.Printf("hold: %d callers, %d frames, %.2f frames/s each (lowest %.2f); late p50 %v p99 %v max %v; %d lost, %d skipped by the sender; over %s\n",
		h.Streams, h.Frames, h.FPSMean, h.FPSMin, h.LateP50, h.LateP99, h.LateMax, h.Lost, h.Skipped, over)
}

// parsePortRange reads HOST:LOW-HIGH into an address a port, at most
// 20,000 of them.
func parsePortRange(spec string) ([]netip.AddrPort, error) {
	i := strings.LastIndexByte(spec, ':')
	if i < 0 {
		return nil, fmt.Errorf("want HOST:LOW-HIGH")
	}
	host, err := netip.ParseAddr(spec[:i])
	if err != nil {
		return nil, err
	}
	lo, hi, ok := strings.Cut(spec[i+1:], "-")
	from, err1 := strconv.ParseUint(lo, 10, 16)
	to, err2 := strconv.ParseUint(hi, 10, 16)
	if !ok || err1 != nil || err2 != nil || from == 0 || to < from || to-from >= 20000 {
		return nil, fmt.Errorf("want ports LOW-HIGH, at most 20,000")
	}
	peers := make([]netip.AddrPort, 0, to-from+1)
	for p := from; p <= to; p++ {
		peers = append(peers, netip.AddrPortFrom(host, uint16(p)))
	}
	return peers, nil
}
