package acd

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
)

// withDirectory gives Burgdorf a Bürgerbüro (#1, always open) and a
// Standesamt (#2, never open).
func withDirectory(c *Config) {
	for i := range c.Municipalities {
		if c.Municipalities[i].Key == "burgdorf" {
			c.Municipalities[i].Directory = map[string]Department{
				"buergerbuero": {Name: "Bürgerbüro", Number: "+49 5136 1890", Code: "#1"},
				"standesamt":   {Name: "Standesamt", Number: "+4951361891", Code: "#2", Hours: &Hours{Holidays: "none"}},
			}
		}
	}
}

// answeredByA1 starts a call to Burgdorf answered by a1 and returns the
// caller's and a1's legs.
func answeredByA1(t *testing.T, e *Engine, d *fakeDialer, id string) (*fakeLeg, *fakeAgentLeg) {
	t.Helper()
	e.AgentRegistered("a1")
	waitAgentState(t, e, "a1", AgentAvailable)
	leg := newFakeLeg(id, "+495136115")
	go e.HandleCall(leg)
	al := connect(t, d)
	waitCallState(t, e, id, StateConnected)
	return leg, al
}

func waitNotified(t *testing.T, al *fakeAgentLeg, want ...int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !slices.Equal(al.notifies(), want); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent's phone was told %v, want %v", al.notifies(), want)
		}
	}
}

// TestBlindTransferToADepartment: the agent dials the Bürgerbüro's short
// code; the REFER is accepted, the office is called out through the trunk
// at its number, the phone is told 200, the agent's leg ends and its
// wrap-up runs while the caller talks with the office. The row: answered
// by a1, talk only a1's, transfer blind to the number, transfer_ms the
// office's part.
func TestBlindTransferToADepartment(t *testing.T) {
	e, d, s := testEngine(t, withDirectory)
	leg, al := answeredByA1(t, e, d, "c-dept")
	time.Sleep(20 * time.Millisecond) // some talk with the agent
	if code := al.refer("#1"); code != 202 {
		t.Fatalf("REFER to #1: %d, want 202", code)
	}
	var office *fakeAgentLeg
	select {
	case office = <-d.outLegs:
	case <-time.After(20 * time.Second):
		t.Fatal("the office was not called")
	}
	waitNotified(t, al, 200)
	select {
	case <-al.Ended():
	case <-time.After(20 * time.Second):
		t.Fatal("the agent's leg did not end after the transfer")
	}
	// The agent is free again while the caller still talks with the office.
	waitAgentState(t, e, "a1", AgentAvailable)
	if st := callState(e, "c-dept"); st != StateConnected {
		t.Errorf("call is %q while the caller talks with the office, want connected", st)
	}
	time.Sleep(30 * time.Millisecond)
	office.Hangup()
	r := waitRec(t, s)
	if d.callouts[0] != "+4951361890" {
		t.Errorf("called out %v, want +4951361890", d.callouts)
	}
	if r.Disposition != cdr.Answered || r.Agent != "a1" || r.TransferKind != "blind" || r.TransferTarget != "+4951361890" ||
		r.TransferredBy != "a1" || r.HangupBy != "transfer-target" || r.Segments != "" {
		t.Errorf("cdr %+v", r)
	}
	if r.TransferMS < 25 || r.TalkMS < 15 || r.WrapupMS < 40 {
		t.Errorf("talk %d ms, wrap-up %d ms, transferred leg %d ms: want ≥ 15, ≥ 40 (the queue's 50 ms), ≥ 25", r.TalkMS, r.WrapupMS, r.TransferMS)
	}
	if total := r.EndedAt.Sub(r.AnsweredAt).Milliseconds(); r.TalkMS >= total {
		t.Errorf("talk %d ms of a %d ms call: the office's part is billed as the agent's", r.TalkMS, total)
	}
	select {
	case <-leg.Ended():
	default:
		t.Error("the caller's leg is still up after the office hung up")
	}
}

// TestTransferTargetBusyBackToAgent: the office answers 486: the phone is
// told so, the caller is back with the agent, and the row shows no
// transfer and the agent's whole talk.
func TestTransferTargetBusyBackToAgent(t *testing.T) {
	e, d, s := testEngine(t, withDirectory)
	d.outFail = 486
	leg, al := answeredByA1(t, e, d, "c-busy")
	if code := al.refer("+4951361899"); code != 202 {
		t.Fatalf("REFER: %d", code)
	}
	waitNotified(t, al, 486)
	waitCallState(t, e, "c-busy", StateConnected)
	select {
	case <-al.Ended():
		t.Fatal("the agent's leg ended although the transfer failed")
	default:
	}
	// A second try is possible once the first is over.
	if code := al.refer("+4951361899"); code != 202 {
		t.Errorf("second REFER: %d, want 202", code)
	}
	waitNotified(t, al, 486, 486)
	leg.end()
	r := waitRec(t, s)
	if r.Disposition != cdr.Answered || r.Agent != "a1" || r.TransferKind != "" || r.TransferTarget != "" {
		t.Errorf("cdr %+v", r)
	}
	if total := r.EndedAt.Sub(r.AnsweredAt).Milliseconds(); r.TalkMS != total {
		t.Errorf("talk %d ms, want the whole call's %d", r.TalkMS, total)
	}
}

// TestTransferFailedAfterAgentLeftRingsTheAgentAgain: the agent hangs up
// right after the 202 (as phones do on a blind transfer) and the office
// does not answer: the agent's phone rings again with the caller, who is
// back with a1 — one agent, two parts, no wrap-up in between.
func TestTransferFailedAfterAgentLeftRingsTheAgentAgain(t *testing.T) {
	e, d, s := testEngine(t, withDirectory)
	d.outFail, d.outGate = 480, make(chan struct{})
	_, al := answeredByA1(t, e, d, "c-back")
	if code := al.refer("buergerbuero"); code != 202 {
		t.Fatalf("REFER: %d", code)
	}
	al.Hangup()
	close(d.outGate)
	again := connect(t, d)
	waitCallState(t, e, "c-back", StateConnected)
	again.Hangup()
	r := waitRec(t, s)
	parts := strings.Split(r.Segments, ";")
	if len(parts) != 2 || !strings.HasPrefix(parts[0], "a1:") || !strings.HasSuffix(parts[0], ":0") || !strings.HasPrefix(parts[1], "a1:") {
		t.Errorf("segments %q, want a1 without wrap-up, then a1", r.Segments)
	}
	if d.offers[len(d.offers)-1] != "a1:c-back" {
		t.Errorf("offers %v, want a1 rung again", d.offers)
	}
}

// TestTransferFailedAfterAgentLeft: the agent hangs up right after the
// 202 and does not answer again when the office fails: the caller goes to
// the front of the queue and a2 takes it. The row lists both agents'
// parts; talk and wrap-up are their sums.
func TestTransferFailedAfterAgentLeft(t *testing.T) {
	e, d, s := testEngine(t, withDirectory)
	d.outFail, d.outGate = 480, make(chan struct{})
	_, al := answeredByA1(t, e, d, "c-left")
	if code := al.refer("buergerbuero"); code != 202 {
		t.Fatalf("REFER: %d", code)
	}
	al.Hangup() // the phone leaves at once, and declines when rung again
	d.mu.Lock()
	d.decline["a1"] = true
	d.mu.Unlock()
	e.AgentRegistered("a2")
	waitAgentState(t, e, "a2", AgentAvailable)
	close(d.outGate)
	a2 := connect(t, d)
	waitCallState(t, e, "c-left", StateConnected)
	a2.Hangup()
	r := waitRec(t, s)
	parts := strings.Split(r.Segments, ";")
	if r.Disposition != cdr.Answered || r.Agent != "a1" || len(parts) != 2 || !strings.HasPrefix(parts[0], "a1:") || !strings.HasPrefix(parts[1], "a2:") {
		t.Fatalf("cdr %+v, want a1 then a2", r)
	}
	var talk, wrap int64
	for _, p := range parts {
		f := strings.Split(p, ":")
		talk += atoi(t, f[1])
		wrap += atoi(t, f[2])
	}
	if talk != r.TalkMS || wrap != r.WrapupMS || r.TransferKind != "" {
		t.Errorf("segments %q sum to talk %d, wrap-up %d; row says %d, %d (transfer %q)", r.Segments, talk, wrap, r.TalkMS, r.WrapupMS, r.TransferKind)
	}
}

// TestTransferToAnotherAgent: a1 transfers to a2 by SIP user; a2 is
// claimed and rings; once a2 answers a1's leg ends; a2 may transfer again
// (here: to a queue, where a1 takes the caller back). One row, three
// segments, service level counted once.
func TestTransferToAnotherAgent(t *testing.T) {
	e, d, s := testEngine(t)
	e.AgentRegistered("a2")
	waitAgentState(t, e, "a2", AgentAvailable)
	_ = e.Pause("a2", "x") // not for the queue; a transfer claims only available agents
	_, al := answeredByA1(t, e, d, "c-agent")
	if code := al.refer("a2"); code != 486 && code != 202 {
		t.Fatalf("REFER to a paused a2: %d", code)
	}
	waitNotified(t, al, 486) // a2 is paused: busy, the caller stays with a1
	_ = e.Ready("a2")
	waitAgentState(t, e, "a2", AgentAvailable)
	if code := al.refer("agent:a2"); code != 202 {
		t.Fatalf("REFER to agent:a2: %d", code)
	}
	a2 := connect(t, d)
	waitNotified(t, al, 486, 200)
	<-al.Ended()
	waitCallState(t, e, "c-agent", StateConnected) // with a2
	if code := a2.refer("queue:burgdorf"); code != 202 {
		t.Fatalf("a2's REFER to queue:burgdorf: %d", code)
	}
	waitNotified(t, a2, 200)
	back := connect(t, d) // a1, after its wrap-up
	back.Hangup()
	r := waitRec(t, s)
	if n := strings.Count(r.Segments, ";") + 1; r.Segments == "" || n != 3 || !strings.HasPrefix(r.Segments, "a1:") || !strings.Contains(r.Segments, ";a2:") {
		t.Errorf("segments %q, want a1, a2, a1", r.Segments)
	}
	if r.TransferKind != "queue" || r.TransferTarget != "queue:burgdorf" || r.TransferredBy != "a2" || r.Agent != "a1" {
		t.Errorf("cdr %+v", r)
	}
	// The service level counts the call right after its row: once.
	for deadline := time.Now().Add(20 * time.Second); e.sl["burgdorf"].answered.Load() == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
	}
	time.Sleep(20 * time.Millisecond)
	if got := e.sl["burgdorf"].answered.Load(); got != 1 {
		t.Errorf("service level counted %d answers, want 1", got)
	}
}

// TestTransferRefusals: what the REFER is answered when the target cannot
// be taken — the call goes on unchanged.
func TestTransferRefusals(t *testing.T) {
	e, d, s := testEngine(t, withDirectory)
	leg, al := answeredByA1(t, e, d, "c-refused")
	for target, want := range map[string]int{
		"standesamt": 480, "#2": 480, "a1": 403, "agent:nobody": 404, "queue:nowhere": 404, "hallo": 404, "12": 404, "federation": 403,
	} {
		if code := al.refer(target); code != want {
			t.Errorf("REFER to %q: %d, want %d", target, code, want)
		}
	}
	if len(al.notifies()) != 0 || len(d.callouts) != 0 || callState(e, "c-refused") != StateConnected {
		t.Errorf("a refused REFER changed the call: notified %v, called out %v, state %q", al.notifies(), d.callouts, callState(e, "c-refused"))
	}
	leg.end()
	if r := waitRec(t, s); r.TransferKind != "" || r.Disposition != cdr.Answered {
		t.Errorf("cdr %+v", r)
	}
}

// TestTransferToTheFederation: "federation" hands the caller to another
// 115 center (the overflow leg); the row names it.
func TestTransferToTheFederation(t *testing.T) {
	e, d, s := testEngine(t)
	withOverflow(e, OverflowRules{})
	d.forwardOK = true
	leg, al := answeredByA1(t, e, d, "c-fed")
	if code := al.refer("federation"); code != 202 {
		t.Fatalf("REFER: %d", code)
	}
	waitNotified(t, al, 200)
	leg.end()
	r := waitRec(t, s)
	if r.TransferKind != "federation" || r.TransferTarget != "federation:nord" || r.Disposition != cdr.Answered {
		t.Errorf("cdr %+v", r)
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, r := range s {
		if r < '0' || r > '9' {
			t.Fatalf("%q is no number", s)
		}
		n = n*10 + int64(r-'0')
	}
	return n
}

// TestDirectoryAPI: the agent console lists a municipality's offices with
// their codes and whether each takes calls now; an unknown municipality is
// 404.
func TestDirectoryAPI(t *testing.T) {
	e, _, _ := testEngine(t, withDirectory)
	mux := http.NewServeMux()
	API(mux, e, nil)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) (int, []DirectoryEntry) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer secret")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v []DirectoryEntry
		_ = json.NewDecoder(res.Body).Decode(&v)
		return res.StatusCode, v
	}
	code, dir := get("/api/municipalities/burgdorf/directory")
	want := []DirectoryEntry{
		{Key: "buergerbuero", Name: "Bürgerbüro", Number: "+4951361890", Code: "#1", Open: true},
		{Key: "standesamt", Name: "Standesamt", Number: "+4951361891", Code: "#2", Open: false},
	}
	if code != 200 || !slices.Equal(dir, want) {
		t.Errorf("directory %d %+v, want %+v", code, dir, want)
	}
	if code, _ := get("/api/municipalities/nowhere/directory"); code != 404 {
		t.Errorf("unknown municipality: %d, want 404", code)
	}
}

// TestDirectoryValidation: a department with a bad number, key or code,
// or two with one code, is refused with the field named.
func TestDirectoryValidation(t *testing.T) {
	cfg := testConfigACD()
	cfg.Municipalities[0].Directory = map[string]Department{
		"Bürgerbüro": {Name: "x", Number: "+4951361890"},
		"amt":        {Name: "", Number: "call me", Code: "#1"},
		"amt2":       {Name: "Amt 2", Number: "0511 123", Code: "#1"},
		"amt3":       {Name: "Amt 3", Number: "0511 124", Code: "1234567"},
	}
	err := cfg.Validate()
	for _, want := range []string{"directory.Bürgerbüro", "directory.amt.name", "directory.amt.number", "code", "directory.amt3.code"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation %v, want it to name %s", err, want)
		}
	}
}
