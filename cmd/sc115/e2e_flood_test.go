package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/testphone"
)

// finals reads answers on p's socket until every one of want Call-IDs has
// a final answer or the deadline passes, and returns each Call-ID's first
// final status line with its Retry-After header ("" if none).
func (p *rawPeer) finals(want int, within time.Duration) map[string][2]string {
	p.t.Helper()
	got := map[string][2]string{}
	buf := make([]byte, 8192)
	deadline := time.Now().Add(within)
	for len(got) < want {
		_ = p.conn.SetReadDeadline(deadline)
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			break
		}
		msg := string(buf[:n])
		line, _, _ := strings.Cut(msg, "\r\n")
		if strings.HasPrefix(line, "SIP/2.0 1") {
			continue
		}
		id, retry := "", ""
		for _, h := range strings.Split(msg, "\r\n") {
			if v, ok := strings.CutPrefix(h, "Call-ID: "); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(h, "Retry-After: "); ok {
				retry = v
			}
		}
		if _, seen := got[id]; !seen && id != "" {
			got[id] = [2]string{line, retry}
		}
	}
	return got
}

// TestInviteFloodThatNeverAcks (issue 12, 6): 100 INVITEs from one trunk
// address (127.0.0.5) that never ACK. At most max_unconfirmed_calls (20)
// are answered; the rest get 503 with Retry-After, counted. While the
// flood's calls still hold their ports, a real caller from another trunk
// address is answered and hears its greeting. The flood's calls end after
// ack_timeout and every RTP port is free again.
func TestInviteFloodThatNeverAcks(t *testing.T) {
	cfg := testConfig(t)
	cfg.SIP.Trunks[0].Allow = []string{"127.0.0.0/8"}
	cfg.SIP.Limits.MaxUnconfirmedCalls = 20
	cfg.SIP.Limits.AckTimeout = 10 * time.Second
	s := startTest(t, cfg)
	target := s.sip.Addr().String()
	flooder := newRawPeer(t, "127.0.0.5", target)
	sdp := string(testphone.SDP(netip.MustParseAddrPort("127.0.0.5:40010"), "8 PCMA/8000"))
	const n = 100
	for i := range n {
		flooder.write("INVITE", "sip:+495132115@"+target, fmt.Sprintf("<sip:+4930%d@127.0.0.5>;tag=f%d", i, i), "<sip:+495132115@127.0.0.1>",
			fmt.Sprintf("flood-%d@127.0.0.5", i), 1, []string{"Contact: <sip:flood@127.0.0.5:40010>", "Content-Type: application/sdp"}, sdp)
	}
	answers := flooder.finals(n, time.Minute)
	floodDone := time.Now()
	ok, refused := 0, 0
	for id, a := range answers {
		switch {
		case strings.HasPrefix(a[0], "SIP/2.0 200"):
			ok++
		case strings.HasPrefix(a[0], "SIP/2.0 503"):
			refused++
			if a[1] == "" {
				t.Errorf("%s: 503 without Retry-After", id)
			}
		default:
			t.Errorf("%s: %q", id, a[0])
		}
	}
	t.Logf("flood: %d answered, %d refused of %d", ok, refused, n)
	if ok > 20 || ok == 0 || ok+refused != n {
		t.Errorf("%d answered and %d refused of %d INVITEs, want at most 20 answered and the rest refused", ok, refused, n)
	}

	// A real caller from another address gets through meanwhile.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caller, err := testphone.New("+495132999888", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	call, err := caller.Dial(ctx, target, "+495132115", nil)
	if err != nil {
		t.Fatalf("a real call during the flood: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); len(call.RTP.Received()) < 10; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the real caller hears nothing during the flood")
		}
	}
	if time.Since(floodDone) > cfg.SIP.Limits.AckTimeout {
		t.Log("this machine was slow: the flood's calls may have ended before the real call")
	}
	if err := call.Bye(ctx); err != nil {
		t.Fatal(err)
	}

	// The unacknowledged calls end by themselves: no RTP session is left.
	metrics := "http://" + s.httpLn.Addr().String() + "/metrics"
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		_, body := httpGet(t, metrics)
		if metricLine(body, "sc115_media_sessions ") == "sc115_media_sessions 0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RTP sessions still open a minute after the flood: %s", metricLine(body, "sc115_media_sessions "))
		}
	}
	_, body := httpGet(t, metrics)
	if line := metricLine(body, `sc115_sip_limited_total{limit="max_unconfirmed_calls",method="INVITE"}`); line != fmt.Sprintf(`sc115_sip_limited_total{limit="max_unconfirmed_calls",method="INVITE"} %d`, refused) {
		t.Errorf("limit metric: %q, want %d", line, refused)
	}
}

// TestRegisterFloodFromOneSourceIsDropped (issue 12, 6): 2,000 REGISTERs
// from 127.0.0.2, which is no trunk, get at most the bucket's burst plus
// its rate for the time the flood took (each a 401); the rest are dropped
// unanswered and counted. Meanwhile an agent's phone on 127.0.0.1
// registers as usual.
func TestRegisterFloodFromOneSourceIsDropped(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	target := s.sip.Addr().String()
	flooder := newRawPeer(t, "127.0.0.2", target)
	const n = 2000
	start := time.Now()
	for i := range n {
		flooder.write("REGISTER", "sip:"+target, "<sip:1003@127.0.0.2>;tag=s", "<sip:1003@127.0.0.1>", fmt.Sprintf("scan-%d@127.0.0.2", i), 1,
			[]string{"Contact: <sip:1003@127.0.0.2:5099>"}, "")
	}
	took := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	agentPhone(ctx, t, target, "1003") // registers (fatal if not 200)
	answers := flooder.finals(n, 3*time.Second)
	lim := cfg.SIP.Limits
	allowed := int(lim.RegistersPerSecond*4 + lim.RegistersPerSecond*(took+3*time.Second).Seconds() + 1)
	t.Logf("%d of %d REGISTERs answered in %v (allowed %d)", len(answers), n, took, allowed)
	if len(answers) == 0 || len(answers) > allowed {
		t.Errorf("%d REGISTERs answered, want between 1 and %d", len(answers), allowed)
	}
	for id, a := range answers {
		if !strings.HasPrefix(a[0], "SIP/2.0 401") {
			t.Errorf("%s: %q, want a challenge", id, a[0])
			break
		}
	}
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	if line := metricLine(body, `sc115_sip_limited_total{limit="source_rate",method="REGISTER"}`); line == "" {
		t.Error("dropped REGISTERs are not counted")
	}
}

// TestIdleTCPConnectionIsClosed (issue 12, 7): a TCP connection that sends
// nothing is closed after sip.limits.tcp_idle_timeout.
func TestIdleTCPConnectionIsClosed(t *testing.T) {
	cfg := testConfig(t)
	cfg.SIP.Limits.TCPIdleTimeout = time.Second
	s := startTest(t, cfg)
	c, err := net.Dial("tcp", s.sip.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // hang guard
	opened := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("sc115 sent something on an idle connection")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the idle connection was still open after a minute")
	}
	if d := time.Since(opened); d < time.Second {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
}
