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

// rawPeer sends hand-written SIP requests from its own UDP socket and
// reads the answers: an attacker who learned a call's Call-ID.
type rawPeer struct {
	t      *testing.T
	conn   *net.UDPConn
	target *net.UDPAddr
	n      int
}

func newRawPeer(t *testing.T, ip string, target string) *rawPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	to, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	return &rawPeer{t: t, conn: conn, target: to}
}

// request sends method with the given dialog headers (From, To, Call-ID
// and CSeq number) and body, and returns the final answer's status line;
// provisional answers are skipped.
func (p *rawPeer) request(method, from, to, callID string, cseq uint32, body string) string {
	p.t.Helper()
	extra := []string{fmt.Sprintf("Contact: <sip:attacker@%s>", p.conn.LocalAddr())}
	if body != "" {
		extra = append(extra, "Content-Type: application/sdp")
	}
	return p.send(method, "sip:sc115@"+p.target.String(), from, to, callID, cseq, extra, body)
}

// send sends method to ruri with the dialog headers, extra header lines
// and body, and returns the final answer's status line.
func (p *rawPeer) send(method, ruri, from, to, callID string, cseq uint32, extra []string, body string) string {
	p.t.Helper()
	p.write(method, ruri, from, to, callID, cseq, extra, body)
	buf := make([]byte, 8192)
	for {
		_ = p.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return "no answer: " + err.Error()
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		if !strings.HasPrefix(line, "SIP/2.0 1") {
			return line
		}
	}
}

// write sends a request and does not wait for an answer.
func (p *rawPeer) write(method, ruri, from, to, callID string, cseq uint32, extra []string, body string) {
	p.t.Helper()
	p.n++
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bKraw%d%d\r\n", p.conn.LocalAddr(), time.Now().UnixNano(), p.n)
	fmt.Fprintf(&b, "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n", from, to, callID, cseq, method)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := p.conn.WriteToUDP([]byte(b.String()), p.target); err != nil {
		p.t.Fatal(err)
	}
}

// TestThirdPartyCannotTakeOverTheDialog (issue 12, 2): while a caller talks
// with an agent, a third party who knows the Call-ID (agents see it in
// X-115-Call-ID) tries to hold, re-route and end the call and to replace
// it with an INVITE of its own. Every attempt is refused — 481 without the
// dialog's tags, 403 from an address that is neither the caller nor a
// trunk, 500 for a CSeq not above the caller's, 482 for an INVITE reusing
// the Call-ID — and the call goes on in both directions until the real
// caller hangs up, with its CDR.
func TestThirdPartyCannotTakeOverTheDialog(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	agent := agentPhone(ctx, t, target, "1003")
	caller, call := burgdorfCaller(ctx, t, target)
	defer caller.Close()
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}

	realFrom := call.Res.From().Value() // the caller's tag
	realTo := call.Res.To().Value()     // sc115's tag
	seq := call.Res.CSeq().SeqNo
	sendonly := strings.Replace(string(testphone.SDP(netip.MustParseAddrPort("127.0.0.2:40000"), "8 PCMA/8000")), "a=sendrecv", "a=sendonly", 1)
	pcmaOnly := string(testphone.SDP(netip.MustParseAddrPort("127.0.0.2:40002"), "8 PCMA/8000"))
	outsider := newRawPeer(t, "127.0.0.2", target)  // not a trunk address
	trunkHost := newRawPeer(t, "127.0.0.1", target) // a trunk address, not the caller's socket
	agentLegID := in.Req.CallID().Value()           // the agent's phone knows this one
	madeUpFrom, madeUpTo := "<sip:x@127.0.0.2>;tag=forged1", "<sip:05136115@127.0.0.1>;tag=forged2"

	cases := []struct {
		name string
		got  string
		want string
	}{
		{"re-INVITE sendonly with made-up tags", outsider.request("INVITE", madeUpFrom, madeUpTo, call.CallID, seq+1, sendonly), "SIP/2.0 481"},
		{"re-INVITE PCMA-only with made-up tags", outsider.request("INVITE", madeUpFrom, madeUpTo, call.CallID, seq+2, pcmaOnly), "SIP/2.0 481"},
		{"BYE without any tags, CSeq 1", outsider.request("BYE", "<sip:x@127.0.0.2>", "<sip:05136115@127.0.0.1>", call.CallID, 1, ""), "SIP/2.0 481"},
		{"re-INVITE with the real tags from an outsider", outsider.request("INVITE", realFrom, realTo, call.CallID, seq+3, sendonly), "SIP/2.0 403"},
		{"BYE with the real tags from an outsider", outsider.request("BYE", realFrom, realTo, call.CallID, seq+4, ""), "SIP/2.0 403"},
		{"BYE with the real tags, CSeq of the INVITE", trunkHost.request("BYE", realFrom, realTo, call.CallID, seq, ""), "SIP/2.0 500"},
		{"INVITE without To-tag reusing the Call-ID", trunkHost.request("INVITE", "<sip:+4930999@127.0.0.1>;tag=other", "<sip:05136115@127.0.0.1>", call.CallID, 1, pcmaOnly), "SIP/2.0 482"},
		{"BYE to the agent leg with made-up tags", outsider.request("BYE", madeUpFrom, madeUpTo, agentLegID, 99, ""), "SIP/2.0 481"},
	}
	for _, c := range cases {
		if !strings.HasPrefix(c.got, c.want) {
			t.Errorf("%s: answered %q, want %q", c.name, c.got, c.want)
		}
	}

	// The call is untouched: both still hear each other.
	talkBothWays(t, call, in, nil)

	// The real caller's BYE ends it, with the agent's leg and a CDR.
	if err := call.Bye(ctx); err != nil {
		t.Fatalf("the real caller's BYE: %v", err)
	}
	select {
	case <-in.Ended():
	case <-ctx.Done():
		t.Fatal("the agent's leg did not end with the caller's BYE")
	}
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute)
	if row["disposition"] != "answered" || row["agent"] != "1003" {
		t.Errorf("CDR: disposition %q agent %q, want answered by 1003", row["disposition"], row["agent"])
	}
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	if line := metricLine(body, `sc115_sip_in_dialog_refused_total{method="INVITE",why="no such dialog`); line == "" {
		t.Error("refused in-dialog requests are not counted")
	}
	if line := metricLine(body, "sc115_sip_invite_loops_total"); !strings.HasSuffix(line, " 1") {
		t.Errorf("loop metric: %q", line)
	}
}

// TestByeBeforeAck: a proxy with several workers (Kamailio) or UDP may
// deliver the caller's BYE before its ACK. The call was answered; the
// caller hung up: 200 to the BYE and a row "abandoned" with SIP code 200,
// not a failed call.
func TestByeBeforeAck(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	target := s.sip.Addr().String()
	p := newRawPeer(t, "127.0.0.1", target)
	callID := fmt.Sprintf("bye-first-%d", time.Now().UnixNano())
	from := "<sip:+495136123456@127.0.0.1>;tag=byefirst"
	sdp := string(testphone.SDP(netip.MustParseAddrPort("127.0.0.1:40010"), "8 PCMA/8000"))
	extra := []string{fmt.Sprintf("Contact: <sip:caller@%s>", p.conn.LocalAddr()), "Content-Type: application/sdp"}
	p.write("INVITE", "sip:05136115@"+target, from, "<sip:05136115@127.0.0.1>", callID, 1, extra, sdp)
	buf := make([]byte, 8192)
	var ok string
	for ok == "" {
		_ = p.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no 200 OK: %v", err)
		}
		if strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
			ok = string(buf[:n])
		}
	}
	var to string
	for _, l := range strings.Split(ok, "\r\n") {
		if strings.HasPrefix(strings.ToLower(l), "to:") {
			to = strings.TrimSpace(l[3:])
		}
	}
	if got := p.send("BYE", "sip:sc115@"+target, from, to, callID, 2, nil, ""); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("BYE before the ACK: %q, want 200", got)
	}
	p.write("ACK", "sip:sc115@"+target, from, to, callID, 1, nil, "")
	row := waitCDR(t, cfg.CDR.Dir, callID, time.Minute)
	if !strings.HasPrefix(row["disposition"], "abandoned") || row["sip_code"] != "200" || row["hangup_by"] != "caller" {
		t.Errorf("row %v, want abandoned (short), sip_code 200, hung up by the caller", row)
	}
}
