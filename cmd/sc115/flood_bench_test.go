package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/testphone"
)

// BenchmarkCallsDuringInviteFlood (issue 12, 6): legitimate calls from
// one trunk address (127.0.0.1, 20 calls/s for 10 s, each answered by an
// agent and talked 1 s) while another trunk address (127.0.0.5) floods
// sc115 with 2,000 INVITEs a second that never ACK. Reported: the
// legitimate calls' success and setup time (INVITE → 200 OK), how many
// flood INVITEs were answered 200 or refused 503. With limits=default the
// flood is held at max_unconfirmed_calls per address; limits=off raises
// every bound out of reach, to show what the limits buy. Run with
// -benchtime 1x (each run is the whole 10 s scenario).
func BenchmarkCallsDuringInviteFlood(b *testing.B) {
	b.Run("limits=default", func(b *testing.B) { benchFlood(b, false) })
	b.Run("limits=off", func(b *testing.B) { benchFlood(b, true) })
}

func benchFlood(b *testing.B, off bool) {
	const agents, rate, seconds, floodRate, talk = 50, 20, 10, 2000, time.Second
	cfg := testConfigB(b)
	cfg.SIP.Trunks[0].Allow = []string{"127.0.0.0/8"}
	cfg.Media.RTPPorts = "20000-39999"
	cfg.ACD.Queue.Wrapup = 0
	if off {
		cfg.SIP.Limits.TrunkInvitesPerSecond = 1e6
		cfg.SIP.Limits.MaxUnconfirmedCalls = 1 << 30
		cfg.SIP.Limits.MaxCallsPerTrunk = 0
		cfg.SIP.Limits.AckTimeout = time.Minute
	}
	s := startWithAgents(b, cfg, agents)
	target := s.sip.Addr().String()
	ctx := context.Background()
	caller, err := testphone.New("+495136120000", "127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	defer caller.Close()

	flood, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.5")})
	if err != nil {
		b.Fatal(err)
	}
	defer flood.Close()
	var floodOK, floodRefused atomic.Int64
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := flood.ReadFromUDP(buf)
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(string(buf[:n]), "SIP/2.0 200"):
				floodOK.Add(1) // sipgo retransmits the 200: counted per datagram, see below
			case strings.HasPrefix(string(buf[:n]), "SIP/2.0 503"):
				floodRefused.Add(1)
			}
		}
	}()
	to := net.UDPAddrFromAddrPort(s.sip.Addr())
	sdp := string(testphone.SDP(netip.MustParseAddrPort("127.0.0.5:40000"), "8 PCMA/8000"))
	var floodSent atomic.Int64
	stop := make(chan struct{})
	floodDone := make(chan struct{})
	go func() { // 2,000 a second, in 10 ms slices of 20
		defer close(floodDone)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			for range floodRate / 100 {
				i++
				msg := fmt.Sprintf("INVITE sip:+495136115@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKfl%d\r\nMax-Forwards: 70\r\nFrom: <sip:+4930%d@127.0.0.5>;tag=f%d\r\nTo: <sip:+495136115@127.0.0.1>\r\nCall-ID: fl%d@127.0.0.5\r\nCSeq: 1 INVITE\r\nContact: <sip:f@127.0.0.5:40000>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
					target, flood.LocalAddr(), i, i, i, i, len(sdp), sdp)
				if _, err := flood.WriteToUDP([]byte(msg), to); err == nil {
					floodSent.Add(1)
				}
			}
		}
	}()

	b.ResetTimer()
	var mu sync.Mutex
	var setups []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	for i := 0; i < rate*seconds; i++ {
		time.Sleep(time.Until(begin.Add(time.Duration(i) * time.Second / rate)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			t0 := time.Now()
			c, err := caller.Dial(dctx, target, "+495136115", []string{"8 PCMA/8000"})
			if err != nil {
				failed.Add(1)
				return
			}
			d := time.Since(t0)
			mu.Lock()
			setups = append(setups, d)
			mu.Unlock()
			go func() { _ = c.RTP.Send(8, make([]byte, 160), int(talk/(20*time.Millisecond))) }()
			time.Sleep(talk)
			_ = c.Bye(ctx)
		}()
	}
	wg.Wait()
	close(stop)
	<-floodDone
	elapsed := time.Since(begin)
	b.StopTimer()

	slices.Sort(setups)
	pct := func(p float64) float64 {
		if len(setups) == 0 {
			return 0
		}
		return float64(setups[min(len(setups)-1, int(p*float64(len(setups))))].Microseconds()) / 1000
	}
	total := rate * seconds
	b.ReportMetric(100*float64(len(setups))/float64(total), "%legit_answered")
	b.ReportMetric(pct(0.5), "legit_setup_p50_ms")
	b.ReportMetric(pct(0.95), "legit_setup_p95_ms")
	b.ReportMetric(float64(floodSent.Load())/elapsed.Seconds(), "flood_invites/s")
	b.ReportMetric(float64(floodRefused.Load()), "flood_503")
	body := ""
	if res, err := http.Get("http://" + s.httpLn.Addr().String() + "/metrics"); err == nil { // limits=off may have no file descriptor left
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		body = string(raw)
	}
	b.ReportMetric(metricValue(body, `sc115_sip_limited_total{limit="max_unconfirmed_calls",method="INVITE"}`), "limited_unconfirmed")
	b.ReportMetric(metricValue(body, "sc115_media_sessions "), "rtp_sessions_at_end")
}

// metricValue is the value of the metric line starting with prefix (0 if none).
func metricValue(body, prefix string) float64 {
	line := metricLine(body, prefix)
	var v float64
	if i := strings.LastIndexByte(line, ' '); i >= 0 {
		_, _ = fmt.Sscan(line[i+1:], &v)
	}
	return v
}
