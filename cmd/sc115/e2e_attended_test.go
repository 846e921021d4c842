package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/zaf/g711"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/testphone"
	"github.com/sc115/sc115/sip/media"
)

// holdHeard counts the frames of the shipped hold track (A-law) in what
// the caller received from index from on.
func holdHeard(t *testing.T, call *testphone.Call, from int) int {
	t.Helper()
	hold, err := media.LoadWAV("../../prompts/de/hold.wav")
	if err != nil {
		t.Fatal(err)
	}
	frames := map[string]bool{}
	for i := 0; i < hold.Frames(); i++ {
		frames[string(hold.Frame(media.PCMA, i))] = true
	}
	n := 0
	got := call.RTP.Received()
	for _, p := range got[min(from, len(got)):] {
		if frames[string(p.Payload)] {
			n++
		}
	}
	return n
}

// waitHoldHeard waits until the caller heard at least n hold frames since
// from.
func waitHoldHeard(t *testing.T, call *testphone.Call, from, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); holdHeard(t, call, from) < n && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	if got := holdHeard(t, call, from); got < n {
		t.Fatalf("the caller heard %d hold frames, want ≥ %d (no silence, nothing of the consultation)", got, n)
	}
}

// dialStatus is the final status of a failed Dial (0 if it was answered
// or failed otherwise).
func dialStatus(c *testphone.Call, err error) int {
	var re *sipgo.ErrDialogResponse
	if c == nil && errors.As(err, &re) {
		return re.Res.StatusCode
	}
	return 0
}

// TestAttendedTransferToTheBuergerbuero (issue 14) over SIP, frame by
// frame: agent 1003 talks with a caller, holds the call (the caller hears
// the hold track), calls the Bürgerbüro through sc115 by its department
// key — a consultation call, digest-authenticated — and talks with the
// office while the caller still hears only the hold track. Then REFER with
// Replaces naming the consultation: 202, NOTIFY 100 and 200, both of the
// agent's calls end, and the caller and the office hear each other on the
// office's same leg. The row: attended to +4951361890 by 1003, the agent's
// talk including the consultation, the office's part in transfer_ms.
func TestAttendedTransferToTheBuergerbuero(t *testing.T) {
	office, err := testphone.New("buergerbuero", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer office.Close()
	office.OnOffer(func(*sip.Request) (int, time.Duration, []string) {
		return 200, 500 * time.Millisecond, []string{"0 PCMU/8000"}
	})
	cfg := transferConfig(t, office.Addr)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	target := s.sip.Addr().String()
	agent, call, in := callAnsweredBy(ctx, t, target, "1003")
	if res, err := in.ReInvite(ctx, "sendonly"); err != nil || res.StatusCode != 200 {
		t.Fatalf("the agent's hold: %v %v", res, err)
	}
	heldFrom := len(call.RTP.Received())
	consult, err := agent.Dial(ctx, target, "buergerbuero", nil)
	if err != nil {
		t.Fatalf("consultation call to the Bürgerbüro: %v", err)
	}
	var offered testphone.Offered
	select {
	case offered = <-office.Offers:
	case <-ctx.Done():
		t.Fatal("the office was not called")
	}
	if u := offered.Req.Recipient.User; u != "+4951361890" {
		t.Errorf("office called as %q", u)
	}
	officeIn, err := office.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	talkBothWays(t, consult, officeIn, nil) // agent and office talk …
	waitHoldHeard(t, call, heldFrom, 25)    // … the caller hears the hold track, nothing of them
	callerFrame, agentFrame := talkFrames()
	for _, p := range call.RTP.Received()[heldFrom:] {
		if string(p.Payload) == string(callerFrame) || string(p.Payload) == string(g711.Ulaw2Alaw(agentFrame)) {
			t.Fatal("the held caller heard the consultation")
		}
	}

	res, err := in.ReferReplacing(ctx, "buergerbuero", consult)
	if err != nil || res.StatusCode != 202 {
		t.Fatalf("REFER with Replaces: %v %v, want 202", res, err)
	}
	for n := nextNotify(t, in); n != "SIP/2.0 200 OK"; n = nextNotify(t, in) {
		if n != "SIP/2.0 100 Trying" {
			t.Fatalf("NOTIFY %q", n)
		}
	}
	for name, ended := range map[string]<-chan struct{}{"the agent's call with the caller": in.Ended(), "the consultation call": consult.Ended()} {
		select {
		case <-ended:
		case <-time.After(30 * time.Second):
			t.Fatalf("sc115 did not end %s after the transfer", name)
		}
	}
	if n := len(office.Offers); n != 0 {
		t.Errorf("the office was rung %d more times: an attended transfer hands over the call it has", n)
	}
	talkBothWays(t, call, officeIn, nil) // the caller's one stream, the office's one stream
	waitAgent(t, s, "1003", acd.AgentAvailable)
	time.Sleep(300 * time.Millisecond)
	if err := officeIn.Bye(ctx); err != nil {
		t.Fatalf("office BYE: %v", err)
	}
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute)
	if row["disposition"] != "answered" || row["agent"] != "1003" || row["transfer_kind"] != "attended" ||
		row["transfer_target"] != "+4951361890" || row["transferred_by"] != "1003" || row["hangup_by"] != "transfer-target" {
		t.Errorf("row %v", row)
	}
	talk, _ := strconv.Atoi(row["talk_ms"])
	moved, _ := strconv.Atoi(row["transfer_ms"])
	answered, _ := time.Parse(time.RFC3339Nano, row["answered_at"])
	ended, _ := time.Parse(time.RFC3339Nano, row["ended_at"])
	if talk < 1000 || moved < 1000 || talk+moved > int(ended.Sub(answered).Milliseconds())+50 {
		t.Errorf("talk_ms %d (with the consultation), transfer_ms %d of a %v call", talk, moved, ended.Sub(answered))
	}
}

// TestConsultationFailsOrEnds: the agent is back with the caller whenever
// a consultation does not become a transfer — the office busy (the
// consultation call gets 486), another agent consulted who answers and is
// then hung up on (the agent resumes the caller, the consulted agent is
// free again), a department outside its hours (the agent hears the
// notice). REFER with a Replaces naming no consultation of this agent is
// refused 403 and changes nothing. The row has no transfer.
func TestConsultationFailsOrEnds(t *testing.T) {
	office, err := testphone.New("buergerbuero", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer office.Close()
	office.OnOffer(func(*sip.Request) (int, time.Duration, []string) { return 486, 0, nil })
	cfg := transferConfig(t, office.Addr)
	closed := acd.Hours{Holidays: "none"} // no day open
	for i := range cfg.ACD.Municipalities {
		if cfg.ACD.Municipalities[i].Key == "burgdorf" {
			cfg.ACD.Municipalities[i].Directory["standesamt"] = acd.Department{Name: "Standesamt", Number: "+49 5136 1891", Hours: &closed}
		}
	}
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	target := s.sip.Addr().String()
	colleague := agentPhone(ctx, t, target, "1001")
	waitAgent(t, s, "1001", acd.AgentAvailable)
	if err := s.engine.Pause("1001", "break"); err != nil { // the caller goes to 1003
		t.Fatal(err)
	}
	agent, call, in := callAnsweredBy(ctx, t, target, "1003")

	// The office is busy: the consultation call says so, the agent resumes.
	if res, err := in.ReInvite(ctx, "sendonly"); err != nil || res.StatusCode != 200 {
		t.Fatalf("hold: %v %v", res, err)
	}
	if code := dialStatus(agent.Dial(ctx, target, "buergerbuero", nil)); code != 486 {
		t.Errorf("consultation with a busy office: %d, want 486", code)
	}
	if res, err := in.ReInvite(ctx, "sendrecv"); err != nil || res.StatusCode != 200 {
		t.Fatalf("resume: %v %v", res, err)
	}
	in.RTP.Reset()
	call.RTP.Reset()
	talkBothWays(t, call, in, nil)

	// A department outside its hours answers with a spoken notice.
	closedCall, err := agent.Dial(ctx, target, "standesamt", nil)
	if err != nil {
		t.Fatalf("consultation with a closed department: %v, want the notice", err)
	}
	notice, err := media.LoadWAV("../../prompts/de/" + acd.PromptDepartmentClosed)
	if err != nil {
		t.Fatal(err)
	}
	waitHeard(t, "agent (closed notice)", closedCall.RTP.Received, 8, notice.Frame(media.PCMA, 10), 1)
	select {
	case <-closedCall.Ended():
	case <-time.After(30 * time.Second):
		t.Fatal("the closed notice call was not hung up after the notice")
	}
	if n := len(office.Offers); n != 1 {
		t.Errorf("the office behind the trunk got %d calls, want 1 (a closed department rings nobody)", n)
	}

	// A colleague answers the consultation, then the agent hangs it up and
	// is back with the caller; the colleague is free again.
	if err := s.engine.Ready("1001"); err != nil {
		t.Fatal(err)
	}
	waitAgent(t, s, "1001", acd.AgentAvailable)
	if res, err := in.ReInvite(ctx, "sendonly"); err != nil || res.StatusCode != 200 {
		t.Fatalf("hold: %v %v", res, err)
	}
	heldFrom := len(call.RTP.Received())
	colleague.OnOffer(func(*sip.Request) (int, time.Duration, []string) { return 200, 0, []string{"0 PCMU/8000"} })
	consult, err := agent.Dial(ctx, target, "agent:1001", nil)
	if err != nil {
		t.Fatalf("consultation with 1001: %v", err)
	}
	colleagueIn, err := colleague.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	talkBothWays(t, consult, colleagueIn, nil)
	waitHoldHeard(t, call, heldFrom, 25)
	waitAgent(t, s, "1001", acd.AgentOnCall)

	// A Replaces naming another dialog (the right Call-ID, a wrong tag) is refused.
	bogus := strings.Replace(consult.Replaces(), "from-tag=", "from-tag=x", 1)
	if res, err := in.Refer(ctx, "<sip:1001@127.0.0.1?Replaces="+strings.NewReplacer(";", "%3B", "=", "%3D", "@", "%40").Replace(bogus)+">"); err != nil || res.StatusCode != 403 {
		t.Errorf("REFER with a foreign Replaces: %v %v, want 403", res, err)
	}
	if err := consult.Bye(ctx); err != nil {
		t.Fatalf("ending the consultation: %v", err)
	}
	select {
	case <-colleagueIn.Ended():
	case <-time.After(30 * time.Second):
		t.Fatal("the consulted agent's leg did not end with the consultation")
	}
	waitAgent(t, s, "1001", acd.AgentAvailable)
	if res, err := in.ReInvite(ctx, "sendrecv"); err != nil || res.StatusCode != 200 {
		t.Fatalf("resume: %v %v", res, err)
	}
	in.RTP.Reset()
	call.RTP.Reset()
	talkBothWays(t, call, in, nil)
	_ = call.Bye(ctx)
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute)
	if row["disposition"] != "answered" || row["agent"] != "1003" || row["transfer_kind"] != "" || row["agent_segments"] != "" {
		t.Errorf("row %v", row)
	}
}

// TestAttendedTransferToAnotherAgent: the consultation goes to agent 1001
// by its id; after the REFER with Replaces 1001 talks with the caller on
// the leg it answered the consultation on; the row has both agents'
// parts, 1003 in wrap-up (billed) while 1001 talks.
func TestAttendedTransferToAnotherAgent(t *testing.T) {
	cfg := transferConfig(t, "127.0.0.1:9")
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	target := s.sip.Addr().String()
	colleague := agentPhone(ctx, t, target, "1001")
	waitAgent(t, s, "1001", acd.AgentAvailable)
	if err := s.engine.Pause("1001", "break"); err != nil {
		t.Fatal(err)
	}
	agent, call, in := callAnsweredBy(ctx, t, target, "1003")
	if err := s.engine.Ready("1001"); err != nil {
		t.Fatal(err)
	}
	waitAgent(t, s, "1001", acd.AgentAvailable)
	if res, err := in.ReInvite(ctx, "sendonly"); err != nil || res.StatusCode != 200 {
		t.Fatalf("hold: %v %v", res, err)
	}
	colleague.OnOffer(func(*sip.Request) (int, time.Duration, []string) { return 200, 0, []string{"0 PCMU/8000"} })
	consult, err := agent.Dial(ctx, target, "1001", nil)
	if err != nil {
		t.Fatalf("consultation with 1001: %v", err)
	}
	colleagueIn, err := colleague.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := colleagueIn.Req.GetHeader("X-115-Municipality"); h == nil || h.Value() != "burgdorf" {
		t.Errorf("the consulted agent's phone is not told the municipality: %v", h)
	}
	talkBothWays(t, consult, colleagueIn, nil)
	if res, err := in.ReferReplacing(ctx, "1001", consult); err != nil || res.StatusCode != 202 {
		t.Fatalf("REFER with Replaces: %v %v", res, err)
	}
	<-in.Ended()
	<-consult.Ended()
	talkBothWays(t, call, colleagueIn, nil)
	waitAgent(t, s, "1001", acd.AgentOnCall)
	_ = call.Bye(ctx)
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute)
	segs := strings.Split(row["agent_segments"], ";")
	if row["agent"] != "1003" || row["transfer_kind"] != "attended" || row["transfer_target"] != "agent:1001" ||
		len(segs) != 2 || !strings.HasPrefix(segs[0], "1003:") || !strings.HasPrefix(segs[1], "1001:") {
		t.Errorf("row %v", row)
	}
}
