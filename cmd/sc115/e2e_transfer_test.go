package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
)

// transferConfig is the test config with an outbound trunk to office (a
// test phone standing for the municipal office behind the PBX) and
// Burgdorf's Bürgerbüro (#1) in the directory.
func transferConfig(t *testing.T, office string) Config {
	t.Helper()
	cfg := testConfig(t)
	cfg.SIP.Trunks[0].Outbound = "sip:{number}@" + office
	for i := range cfg.ACD.Municipalities {
		if cfg.ACD.Municipalities[i].Key == "burgdorf" {
			cfg.ACD.Municipalities[i].Directory = map[string]acd.Department{
				"buergerbuero": {Name: "Bürgerbüro", Number: "+49 5136 1890", Code: "#1"},
			}
		}
	}
	return cfg
}

// nextNotify waits for the next NOTIFY body the agent's phone got.
func nextNotify(t *testing.T, in *testphone.Incoming) string {
	t.Helper()
	select {
	case b := <-in.Notifies:
		return b
	case <-time.After(30 * time.Second):
		t.Fatal("no NOTIFY within 30 s")
		return ""
	}
}

// TestBlindTransferToTheBuergerbuero (issue 14) over SIP: agent 1003 talks
// with a caller, then REFERs the call to "#1". sc115 answers 202, tells the
// phone 100 Trying, plays the caller its hold track while it calls the
// office out through the trunk (the 115 number as caller, Diversion and
// X-115-Transferred-By), tells the phone 200 once the office answers,
// hangs up the agent's leg and bridges caller and office, who hear each
// other — on the caller's one stream. The row: answered by 1003, the
// agent's talk only, transfer blind to +4951361890 by 1003, the office's
// part in transfer_ms.
func TestBlindTransferToTheBuergerbuero(t *testing.T) {
	office, err := testphone.New("buergerbuero", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer office.Close()
	// The office answers after a moment (the caller hears hold meanwhile).
	office.OnOffer(func(*sip.Request) (int, time.Duration, []string) {
		return 200, 600 * time.Millisecond, []string{"0 PCMU/8000"}
	})
	cfg := transferConfig(t, office.Addr)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	target := s.sip.Addr().String()
	_, call, in := callAnsweredBy(ctx, t, target, "1003")
	heardBefore := len(call.RTP.Received())
	res, err := in.Refer(ctx, "<sip:%231@"+target+">")
	if err != nil || res.StatusCode != 202 {
		t.Fatalf("REFER to #1: %v %v, want 202", res, err)
	}
	if n := nextNotify(t, in); n != "SIP/2.0 100 Trying" {
		t.Errorf("first NOTIFY %q, want SIP/2.0 100 Trying", n)
	}
	var offered testphone.Offered
	select {
	case offered = <-office.Offers:
	case <-ctx.Done():
		t.Fatal("the office was not called")
	}
	if n := nextNotify(t, in); n != "SIP/2.0 200 OK" {
		t.Errorf("final NOTIFY %q, want SIP/2.0 200 OK", n)
	}
	select {
	case <-in.Ended():
	case <-time.After(30 * time.Second):
		t.Fatal("sc115 did not end the agent's leg after the transfer")
	}
	req := offered.Req
	if req.Recipient.User != "+4951361890" || !strings.Contains(req.From().Address.User, "495136115") {
		t.Errorf("office INVITE to %s from %s, want +4951361890 from the 115 number", req.Recipient.User, req.From().Address.User)
	}
	if h := req.GetHeader("Diversion"); h == nil || !strings.Contains(h.Value(), "+495136115") || !strings.Contains(h.Value(), "reason=deflection") {
		t.Errorf("Diversion %v", h)
	}
	if h := req.GetHeader("X-115-Transferred-By"); h == nil || h.Value() != "1003" {
		t.Errorf("X-115-Transferred-By %v", h)
	}
	officeIn, err := office.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Between the REFER and the office's answer the caller heard the hold track.
	if held := holdHeard(t, call, heardBefore); held < 10 {
		t.Errorf("the caller heard %d hold frames during the transfer, want ≥ 10 (no silence)", held)
	}
	talkBothWays(t, call, officeIn, nil) // also checks the caller's one stream (SSRC)
	time.Sleep(200 * time.Millisecond)
	if err := officeIn.Bye(ctx); err != nil {
		t.Fatalf("office BYE: %v", err)
	}
	select {
	case <-call.Ended():
	case <-time.After(30 * time.Second):
		t.Fatal("the caller's leg did not end with the office's BYE")
	}
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute)
	if row["disposition"] != "answered" || row["agent"] != "1003" || row["transfer_kind"] != "blind" ||
		row["transfer_target"] != "+4951361890" || row["transferred_by"] != "1003" || row["hangup_by"] != "transfer-target" {
		t.Errorf("row %v", row)
	}
	talk, _ := strconv.Atoi(row["talk_ms"])
	moved, _ := strconv.Atoi(row["transfer_ms"])
	answered, _ := time.Parse(time.RFC3339Nano, row["answered_at"])
	ended, _ := time.Parse(time.RFC3339Nano, row["ended_at"])
	if moved < 1000 || talk <= 0 || talk >= int(ended.Sub(answered).Milliseconds())-moved+50 {
		t.Errorf("talk_ms %d, transfer_ms %d of a %v call: the agent's part and the office's must be apart", talk, moved, ended.Sub(answered))
	}
}

// TestReferRefused: a REFER sc115 cannot carry out is refused — a Refer-To
// that is no URI 400, an unknown target 404, a transfer to oneself 403,
// a REFER from the caller's side 403 — and the call goes on unchanged.
func TestReferRefused(t *testing.T) {
	cfg := transferConfig(t, "127.0.0.1:9") // nobody is called
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	_, call, in := callAnsweredBy(ctx, t, target, "1003") // bridged: REFERs are taken
	host, _, _ := net.SplitHostPort(target)
	for referTo, want := range map[string]int{
		"no uri at all":                  400,
		"<http://example.org/>":          400,
		"<sip:1003@" + host + ">":        403, // the agent itself
		"<sip:nobody-here@" + host + ">": 404,
		"<sip:1003@" + host + "?Replaces=x%3Bto-tag%3Dy%3Bfrom-tag%3Dz>": 403, // no such consultation
	} {
		res, err := in.Refer(ctx, referTo)
		if err != nil || res.StatusCode != want {
			t.Errorf("REFER %q: %v %v, want %d", referTo, res, err, want)
		}
	}
	// The caller's side may not transfer its own call.
	req := sip.NewRequest(sip.REFER, call.Res.Contact().Address)
	req.AppendHeader(sip.NewHeader("Refer-To", "<sip:+4951361890@"+host+">"))
	if res, err := call.Do(ctx, req); err != nil || res.StatusCode != 403 {
		t.Errorf("REFER from the caller: %v %v, want 403", res, err)
	}
	select {
	case n := <-in.Notifies:
		t.Errorf("a refused REFER was followed by NOTIFY %q", n)
	default:
	}
	talkBothWays(t, call, in, nil)
	_ = call.Bye(ctx)
	if row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute); row["transfer_kind"] != "" || row["disposition"] != "answered" {
		t.Errorf("row %v", row)
	}
}

// TestTransferToAnotherAgentOverSIP: agent 1003 transfers the caller to
// agent 1001 by its SIP user; 1001's phone rings with the call, the caller
// and 1001 hear each other, 1003's leg is over; the row lists both agents'
// parts.
func TestTransferToAnotherAgentOverSIP(t *testing.T) {
	cfg := transferConfig(t, "127.0.0.1:9")
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	target := s.sip.Addr().String()
	first := agentPhone(ctx, t, target, "1003")
	second := agentPhone(ctx, t, target, "1001")
	_ = s.engine.Pause("1001", "break") // so that the caller goes to 1003 first
	caller, call := burgdorfCaller(ctx, t, target)
	defer caller.Close()
	in, err := first.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	talkBothWays(t, call, in, nil)
	if err := s.engine.Ready("1001"); err != nil {
		t.Fatal(err)
	}
	waitAgent(t, s, "1001", acd.AgentAvailable)
	host, _, _ := net.SplitHostPort(target)
	if res, err := in.Refer(ctx, "<sip:1001@"+host+">"); err != nil || res.StatusCode != 202 {
		t.Fatalf("REFER to 1001: %v %v", res, err)
	}
	in2, err := second.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n := nextNotify(t, in); n != "SIP/2.0 200 OK"; n = nextNotify(t, in) {
		if n != "SIP/2.0 100 Trying" {
			t.Fatalf("NOTIFY %q", n)
		}
	}
	<-in.Ended()
	talkBothWays(t, call, in2, nil)
	_ = call.Bye(ctx)
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute)
	segs := strings.Split(row["agent_segments"], ";")
	if row["agent"] != "1003" || len(segs) != 2 || !strings.HasPrefix(segs[0], "1003:") || !strings.HasPrefix(segs[1], "1001:") ||
		row["transfer_target"] != "agent:1001" {
		t.Errorf("row %v", row)
	}
}

// TestBaresipBlindTransfer: baresip, a real softphone, as agent 1003 takes
// a caller and blind-transfers it with its own /transfer command (through
// its ctrl_tcp remote control) to the department key "buergerbuero": the
// office behind the trunk rings, caller and office hear each other, and
// the row says blind to +4951361890 by 1003.
func TestBaresipBlindTransfer(t *testing.T) {
	office, err := testphone.New("buergerbuero", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer office.Close()
	office.OnOffer(func(*sip.Request) (int, time.Duration, []string) { return 200, 0, []string{"0 PCMU/8000"} })
	cfg := transferConfig(t, office.Addr)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctrlPort := interop.FreePort(t, "tcp")
	dir := startBaresipAgent(t, fmt.Sprintf("module ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:%d\n", ctrlPort),
		fmt.Sprintf("<sip:1003@%s>;auth_pass=demo1003;answermode=auto\n", s.sip.Addr()))
	waitRegistered(t, s, dir, "1003")
	caller, call := burgdorfCaller(ctx, t, s.sip.Addr().String())
	defer caller.Close()
	waitAgent(t, s, "1003", acd.AgentOnCall)
	time.Sleep(time.Second) // a moment of talk
	ctrl, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ctrlPort))
	if err != nil {
		t.Fatalf("baresip ctrl_tcp: %v", err)
	}
	defer ctrl.Close()
	cmd := `{"command":"transfer","params":"sip:buergerbuero@` + s.sip.Addr().String() + `","token":"t2"}`
	if _, err := fmt.Fprintf(ctrl, "%d:%s,", len(cmd), cmd); err != nil {
		t.Fatal(err)
	}
	officeIn, err := office.NextIncoming(ctx)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "baresip.log"))
		t.Fatalf("the office got no call after baresip's /transfer: %v\n%s", err, log)
	}
	if u := officeIn.Req.Recipient.User; u != "+4951361890" {
		t.Errorf("office called as %q", u)
	}
	talkBothWays(t, call, officeIn, nil)
	waitAgent(t, s, "1003", acd.AgentAvailable) // the agent is free while the caller talks on
	_ = officeIn.Bye(ctx)
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute)
	if row["agent"] != "1003" || row["transfer_kind"] != "blind" || row["transfer_target"] != "+4951361890" || row["transferred_by"] != "1003" {
		t.Errorf("row %v", row)
	}
}

// TestAgentHoldPlaysHoldTrack: the agent's phone holds the call
// (re-INVITE sendonly, as before a consultation): the caller hears the
// municipality's hold track, not silence; it resumes and they hear each
// other again, on the caller's one stream.
func TestAgentHoldPlaysHoldTrack(t *testing.T) {
	cfg := testConfig(t)
	cfg.Media.IdleTimeout = time.Second // a held leg is exempt: the hold below must not end the call
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, call, in := callAnsweredBy(ctx, t, s.sip.Addr().String(), "1003")
	if res, err := in.ReInvite(ctx, "sendonly"); err != nil || res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("the agent's hold: %v %v", res, err)
	}
	waitHoldHeard(t, call, 0, 25) // while the agent holds
	if res, err := in.ReInvite(ctx, "sendrecv"); err != nil || res.StatusCode != 200 {
		t.Fatalf("the agent's resume: %v %v", res, err)
	}
	talkBothWays(t, call, in, nil)
	_ = call.Bye(ctx)
	if row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute); row["disposition"] != "answered" {
		t.Errorf("row %v", row)
	}
}
