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
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
	"github.com/sc115/sc115/sip/media"
)

// TestCallTrunkToAgentToCDR is the foundation's proof: an agent registers
// with digest auth, a caller dials Burgdorf over the trunk, hears the
// Burgdorf greeting, is offered to the agent, both hear each other
// (A-law caller, µ-law agent: transcoded), the caller hangs up, and after
// wrap-up one CDR row says what happened.
func TestCallTrunkToAgentToCDR(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target := s.sip.Addr().String()

	agent, err := testphone.New("1003", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	res, err := agent.Register(ctx, target, "demo1003", 300)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("register: %v %v", res, err)
	}
	var offered *sip.Request
	agent.OnOffer(func(req *sip.Request) (int, time.Duration, []string) {
		offered = req
		return 200, 600 * time.Millisecond, []string{"0 PCMU/8000"} // ring a while: the caller hears the greeting
	})

	caller, err := testphone.New("+495136123456", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	call, err := caller.Dial(ctx, target, "05136115", []string{"8 PCMA/8000"})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_, pts, _ := testphone.ParseSDP(call.Res.Body())
	if len(pts) == 0 || pts[0] != 8 {
		t.Fatalf("answer SDP formats %v, want PCMA (8) first", pts)
	}

	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := offered.From().DisplayName; got != "115 Burgdorf" {
		t.Errorf("agent saw display name %q, want \"115 Burgdorf\"", got)
	}
	if h := offered.GetHeader("X-115-Municipality"); h == nil || h.Value() != "burgdorf" {
		t.Errorf("X-115-Municipality = %v, want burgdorf", h)
	}

	// Before the agent answered, the caller heard the Burgdorf greeting from its first frame.
	greeting, err := media.LoadWAV("../../prompts/de/greeting-burgdorf.wav")
	if err != nil {
		t.Fatal(err)
	}
	heard := call.RTP.Received()
	if len(heard) < 15 {
		t.Fatalf("caller heard %d packets while ringing, want ≥ 15 (600 ms of greeting)", len(heard))
	}
	if heard[0].Header.PayloadType != 8 || string(heard[0].Payload) != string(greeting.Frame(media.PCMA, 0)) {
		t.Errorf("first packet to caller is not the greeting's first A-law frame (pt %d)", heard[0].Header.PayloadType)
	}
	call.RTP.Reset()

	// Media both ways: the caller speaks A-law, the agent µ-law.
	callerFrame := make([]byte, 160)
	agentFrame := make([]byte, 160)
	for i := range callerFrame {
		callerFrame[i] = byte(0x55 ^ i)
		agentFrame[i] = byte(0x80 + i%60)
	}
	done := make(chan error, 1)
	go func() { done <- in.RTP.Send(0, agentFrame, 50) }()
	if err := call.RTP.Send(8, callerFrame, 50); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	assertHeard(t, "agent", in.RTP.Received(), 0, g711.Alaw2Ulaw(callerFrame), 48)
	assertHeard(t, "caller", call.RTP.Received(), 8, g711.Ulaw2Alaw(agentFrame), 48)

	// The caller hangs up: the agent's leg ends too.
	if err := call.Bye(ctx); err != nil {
		t.Fatalf("bye: %v", err)
	}
	select {
	case <-in.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("agent leg not ended after caller BYE")
	}

	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 5*time.Second)
	want := map[string]string{"instance": "test-1", "municipality": "burgdorf", "dialed_number": "+495136115",
		"caller": "+495136123xxx", "agent": "1003", "disposition": "answered"}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("cdr %s = %q, want %q", k, row[k], v)
		}
	}
	for _, k := range []string{"arrived_at", "answered_at", "ended_at"} {
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", row[k]); err != nil {
			t.Errorf("cdr %s = %q: not RFC 3339 UTC with ms", k, row[k])
		}
	}
	assertMS(t, row, "wait_ms", 500, 3000)
	assertMS(t, row, "talk_ms", 900, 5000)
	assertMS(t, row, "wrapup_ms", 300, 1500)

	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	for _, m := range []string{`sc115_calls_offered_total{municipality="burgdorf"} 1`, `sc115_calls_answered_total{municipality="burgdorf"} 1`} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
}

func assertHeard(t *testing.T, who string, got []testphone.Packet, pt uint8, payload []byte, min int) {
	t.Helper()
	n := 0
	for _, p := range got {
		if p.Header.PayloadType == pt && string(p.Payload) == string(payload) {
			n++
		}
	}
	if n < min {
		t.Errorf("%s received %d matching packets (of %d), want ≥ %d", who, n, len(got), min)
	}
	// One continuous stream: one SSRC, consecutive sequence numbers.
	for i := 1; i < len(got); i++ {
		if got[i].Header.SSRC != got[0].Header.SSRC {
			t.Errorf("%s: SSRC changed mid-stream", who)
			break
		}
	}
}

func assertMS(t *testing.T, row map[string]string, k string, lo, hi int) {
	t.Helper()
	v, err := strconv.Atoi(row[k])
	if err != nil || v < lo || v > hi {
		t.Errorf("cdr %s = %q, want %d..%d", k, row[k], lo, hi)
	}
}

// TestTrunkErrors checks the refusals a PBX sees: 404 for an unknown
// number, 403 from outside the trunk CIDRs, 488 without a usable codec,
// 200 for OPTIONS keep-alives, and 403 for a wrong agent password.
func TestTrunkErrors(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	caller, err := testphone.New("+4951111111", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()

	expectCode(t, "unknown number", 404, dialErr(caller.Dial(ctx, target, "+4940115", nil)))
	expectCode(t, "G.722 only", 488, dialErr(caller.Dial(ctx, target, "+495136115", []string{"9 G722/8000"})))
	expectCode(t, "garbage SDP", 488, dialErr(caller.DialRaw(ctx, target, "+495136115", []byte("this is not SDP"))))

	outsider, err := testphone.New("+4951111112", "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	defer outsider.Close()
	expectCode(t, "outside trunk CIDR", 403, dialErr(outsider.Dial(ctx, target, "+495136115", nil)))

	opt := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(s.sip.Addr().Port())})
	if res, err := caller.Do(ctx, opt); err != nil || res.StatusCode != 200 {
		t.Errorf("OPTIONS: %v %v, want 200", res, err)
	}

	agent, err := testphone.New("1001", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if res, err := agent.Register(ctx, target, "wrong-password", 300); err != nil || res.StatusCode != 403 {
		t.Errorf("register with wrong password: %v %v, want 403", res, err)
	}

	rows := readCDRs(t, cfg.CDR.Dir)
	rejected := 0
	for _, r := range rows {
		if r["disposition"] == "rejected_unknown" {
			rejected++
		}
	}
	if rejected != 1 {
		t.Errorf("want one rejected CDR (unknown number), got %d of %d rows", rejected, len(rows))
	}
}

func dialErr(_ *testphone.Call, err error) error { return err }

func expectCode(t *testing.T, what string, code int, err error) {
	t.Helper()
	var re *sipgo.ErrDialogResponse
	if !errors.As(err, &re) || re.Res.StatusCode != code {
		t.Errorf("%s: got %v, want %d", what, err, code)
	}
}

// TestAbandonWhileQueued: nobody is logged in for Lehrte, the caller hears
// hold audio, hangs up, and the CDR says abandoned with the time waited.
func TestAbandonWhileQueued(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	caller, err := testphone.New("+495132999888", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	call, err := caller.Dial(ctx, s.sip.Addr().String(), "+495132115", nil,
		sip.NewHeader("Privacy", "id"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if n := len(call.RTP.Received()); n < 40 {
		t.Errorf("queued caller heard %d packets in 1 s, want ≥ 40", n)
	}
	if err := call.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 5*time.Second)
	if row["disposition"] != "abandoned_short" || row["municipality"] != "lehrte" || row["caller"] != "anonymous" || row["agent"] != "" {
		t.Errorf("cdr = %v, want abandoned_short (under 5 s) lehrte, caller anonymous (withheld), no agent", row)
	}
	assertMS(t, row, "wait_ms", 900, 3000)
}

// TestDrainRefusesNewCallsAndEndsWaitingOnes is what SIGTERM does: new
// INVITEs get 503, a waiting caller is let be for the drain time, then
// hears BYE, and its CDR says interrupted.
func TestDrainRefusesNewCallsAndEndsWaitingOnes(t *testing.T) {
	cfg := testConfig(t)
	cfg.ACD.DrainTime = time.Second
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	caller, err := testphone.New("+495031777666", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	waiting, err := caller.Dial(ctx, target, "+495031115", nil)
	if err != nil {
		t.Fatal(err)
	}
	drained := make(chan struct{})
	go func() { s.engine.Drain(context.Background()); close(drained) }()
	time.Sleep(100 * time.Millisecond)
	if code, _ := httpGet(t, "http://"+s.httpLn.Addr().String()+"/readyz"); code != 503 {
		t.Errorf("/readyz while draining: %d, want 503", code)
	}
	expectCode(t, "new call while draining", 503, dialErr(caller.Dial(ctx, target, "+495031115", nil)))
	select {
	case <-waiting.Ended():
		t.Fatal("waiting call ended before the drain time")
	case <-time.After(500 * time.Millisecond):
	}
	select {
	case <-waiting.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("waiting call not ended after the drain time")
	}
	<-drained
	row := waitCDR(t, cfg.CDR.Dir, waiting.CallID, 2*time.Second)
	if row["disposition"] != "interrupted" || row["municipality"] != "wunstorf" {
		t.Errorf("cdr %v, want interrupted wunstorf", row)
	}
}

// TestCalledPartyFallbackAndAgentHangsUp: a PBX that puts a routing number
// in the Request-URI sc115 does not know, and the real dialed number in
// P-Called-Party-ID, still reaches Wunstorf; the agent hangs up first and
// the caller gets BYE.
func TestCalledPartyFallbackAndAgentHangsUp(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	agent, err := testphone.New("1005", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if res, err := agent.Register(ctx, target, "demo1005", 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("register: %v %v", res, err)
	}
	caller, err := testphone.New("+495031123123", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	call, err := caller.Dial(ctx, target, "routing-77", nil,
		sip.NewHeader("P-Called-Party-ID", "<sip:+495031115@pbx.example>"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := in.Req.GetHeader("X-115-Municipality"); h == nil || h.Value() != "wunstorf" {
		t.Errorf("offer for %v, want wunstorf", h)
	}
	time.Sleep(200 * time.Millisecond)
	if err := in.Bye(ctx); err != nil {
		t.Fatalf("agent bye: %v", err)
	}
	select {
	case <-call.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("caller got no BYE after the agent hung up")
	}
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 5*time.Second)
	if row["disposition"] != "answered" || row["dialed_number"] != "+495031115" || row["agent"] != "1005" {
		t.Errorf("cdr %v", row)
	}
}

// TestRegisterSHA256AndLockout: with SHA-256 offered (RFC 8760) a phone
// registers with it; wrong passwords lock the user out (403 even with the
// right password) until the lockout time is over.
func TestRegisterSHA256AndLockout(t *testing.T) {
	cfg := testConfig(t)
	cfg.SIP.DigestAlgorithms = []string{"SHA-256", "MD5"}
	cfg.SIP.LockoutFailures, cfg.SIP.LockoutTime = 3, time.Hour
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	ph, err := testphone.New("1004", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	res, err := ph.Register(ctx, target, "demo1004", 300)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("register with SHA-256 offered first: %v %v", res, err)
	}
	if a := ph.LastAuthorization(); !strings.Contains(a, "algorithm=SHA-256") {
		t.Errorf("phone answered %q, want the SHA-256 challenge", a)
	}
	for i := 0; i < 3; i++ {
		if res, _ := ph.Register(ctx, target, "guess"+strconv.Itoa(i), 300); res == nil || res.StatusCode != 403 {
			t.Fatalf("wrong password %d: %v, want 403", i, res)
		}
	}
	if res, _ := ph.Register(ctx, target, "demo1004", 300); res == nil || res.StatusCode != 403 {
		t.Errorf("right password while locked out: %v, want 403", res)
	}
}

// TestOfferForksToAllDevices: agent 1006 has a desk phone and a softphone
// registered. Both ring; the softphone answers first and gets the call
// (with the municipality, sc115's call id and the knowledge-base link in
// its headers); the desk phone's ringing is cancelled.
func TestOfferForksToAllDevices(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	desk, _ := testphone.New("1006", "127.0.0.1")
	soft, _ := testphone.New("1006", "127.0.0.1")
	defer desk.Close()
	defer soft.Close()
	for _, ph := range []*testphone.Phone{desk, soft} {
		if res, err := ph.Register(ctx, target, "demo1006", 300); err != nil || res.StatusCode != 200 {
			t.Fatalf("register: %v %v", res, err)
		}
	}
	if res, _ := desk.Register(ctx, target, "demo1006", 300); res == nil || len(res.GetHeaders("Contact")) != 2 {
		t.Fatalf("registrar lists %v contacts, want both devices", res)
	}
	desk.OnOffer(func(*sip.Request) (int, time.Duration, []string) {
		return 200, 10 * time.Second, []string{"8 PCMA/8000"}
	})
	soft.OnOffer(func(*sip.Request) (int, time.Duration, []string) {
		return 200, 300 * time.Millisecond, []string{"0 PCMU/8000"}
	})
	caller, _ := testphone.New("+495031999888", "127.0.0.1")
	defer caller.Close()
	call, err := caller.Dial(ctx, target, "+495031115", nil)
	if err != nil {
		t.Fatal(err)
	}
	deskOffer := <-desk.Offers
	in, err := soft.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := in.Req.GetHeader("X-115-Call-ID"); h == nil || h.Value() != call.CallID {
		t.Errorf("X-115-Call-ID %v, want %s", h, call.CallID)
	}
	if h := in.Req.GetHeader("Call-Info"); h == nil || !strings.Contains(h.Value(), "kommune=wunstorf") || !strings.Contains(h.Value(), "purpose=info") {
		t.Errorf("Call-Info %v, want the knowledge-base link for wunstorf", h)
	}
	select {
	case <-deskOffer.Ended:
	case <-time.After(3 * time.Second):
		t.Error("the desk phone still rings after the softphone answered (no CANCEL)")
	}
	_ = call.Bye(ctx)
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 5*time.Second)
	if row["agent"] != "1006" || row["disposition"] != "answered" || row["attempts"] != "1" {
		t.Errorf("cdr %v", row)
	}
}

// TestFeatureCodesFromThePhone: an agent changes its state by dialing
// feature codes from its registered phone; each call is digest-challenged,
// answered with a spoken confirmation, and hung up by sc115.
func TestFeatureCodesFromThePhone(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	ph, _ := testphone.New("1001", "127.0.0.1")
	defer ph.Close()
	ph.Password = "demo1001"
	if res, err := ph.Register(ctx, target, "demo1001", 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("register: %v %v", res, err)
	}
	waitState := func(want acd.AgentState, reason string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			st := s.engine.Agents()[0]
			if st.ID != "1001" {
				t.Fatal("agents not sorted")
			}
			if st.State == want && (reason == "" || st.Reason == reason) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("agent 1001 is %s (%s), want %s (%s)", st.State, st.Reason, want, reason)
			}
		}
	}
	waitState(acd.AgentAvailable, "")
	for _, step := range []struct {
		code   string
		state  acd.AgentState
		reason string
	}{{"*43*2", acd.AgentPaused, "meeting"}, {"*44", acd.AgentAvailable, ""}, {"*42", acd.AgentLoggedOut, ""}, {"*41", acd.AgentAvailable, ""}} {
		call, err := ph.Dial(ctx, target, step.code, nil)
		if err != nil {
			t.Fatalf("%s: %v", step.code, err)
		}
		select {
		case <-call.Ended():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: sc115 did not hang up after the confirmation", step.code)
		}
		if n := len(call.RTP.Received()); n < 20 {
			t.Errorf("%s: heard %d packets of confirmation, want a spoken prompt", step.code, n)
		}
		waitState(step.state, step.reason)
	}
	expectCode(t, "unknown feature code", 404, dialErr(ph.Dial(ctx, target, "*49", nil)))
	// A phone of an agent that is not registered may not use feature codes.
	other, _ := testphone.New("1002", "127.0.0.1")
	defer other.Close()
	other.Password = "demo1002"
	expectCode(t, "feature code without registration", 403, dialErr(other.Dial(ctx, target, "*41", nil)))
}

// TestRegistrationExpiryLogsOut: a phone that stops refreshing its
// registration is not offered calls: when the binding expires the agent is
// logged out. An expiry below min_expires gets 423 with Min-Expires.
func TestRegistrationExpiryLogsOut(t *testing.T) {
	cfg := testConfig(t)
	cfg.SIP.MinExpires = time.Second
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ph, _ := testphone.New("1002", "127.0.0.1")
	defer ph.Close()
	if res, err := ph.Register(ctx, s.sip.Addr().String(), "demo1002", 1); err != nil || res.StatusCode != 200 {
		t.Fatalf("register: %v %v", res, err)
	}
	waitAgent(t, s, "1002", acd.AgentAvailable)
	waitAgent(t, s, "1002", acd.AgentLoggedOut) // the registrar sweeps every 5 s
	if s.sip.Registered("1002") {
		t.Error("binding still live")
	}

	cfg2 := testConfig(t)
	s2 := startTest(t, cfg2) // min_expires 60 s
	res, err := ph.Register(ctx, s2.sip.Addr().String(), "demo1002", 30)
	if err != nil || res.StatusCode != 423 {
		t.Fatalf("Expires 30 < min 60: %v %v, want 423", res, err)
	}
	if h := res.GetHeader("Min-Expires"); h == nil || h.Value() != "60" {
		t.Errorf("Min-Expires %v, want 60", h)
	}
}

// TestTwoInstancesOneRedis: two sc115 instances share a redis-server. The
// agent's phone registers with instance A; a call comes in at instance B.
// B finds the agent's binding in the store, rings the phone, bridges the
// call, and writes its CDR.
func TestTwoInstancesOneRedis(t *testing.T) {
	url := interop.RedisServer(t)
	cfgA, cfgB := testConfig(t), testConfig(t)
	cfgA.Queue.Redis, cfgB.Queue.Redis = url, url
	cfgA.Instance, cfgB.Instance = "a", "b"
	cfgB.Media.RTPPorts = "40000-40999"
	a, b := startTest(t, cfgA), startTest(t, cfgB)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	agent, _ := testphone.New("1003", "127.0.0.1")
	defer agent.Close()
	if res, err := agent.Register(ctx, a.sip.Addr().String(), "demo1003", 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("register at A: %v %v", res, err)
	}
	waitAgent(t, b, "1003", acd.AgentAvailable) // B sees the state in Redis
	caller, _ := testphone.New("+495136777666", "127.0.0.1")
	defer caller.Close()
	call, err := caller.Dial(ctx, b.sip.Addr().String(), "+495136115", nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatalf("the agent registered at A was not rung for B's call: %v", err)
	}
	if h := in.Req.GetHeader("X-115-Call-ID"); h == nil || h.Value() != call.CallID {
		t.Errorf("offer for %v", h)
	}
	_ = call.Bye(ctx)
	row := waitCDR(t, cfgB.CDR.Dir, call.CallID, 5*time.Second)
	if row["instance"] != "b" || row["agent"] != "1003" || row["disposition"] != "answered" {
		t.Errorf("cdr %v", row)
	}
}

// TestMediaTimeouts: a caller whose phone never sends RTP is ended (BYE)
// after first_packet_timeout with a failed CDR; a connected call whose
// caller's RTP stops is ended on both legs after idle_timeout, the CDR
// saying who ended it: media-timeout.
func TestMediaTimeouts(t *testing.T) {
	cfg := testConfig(t)
	cfg.Media.FirstPacketTimeout, cfg.Media.IdleTimeout = time.Second, time.Second
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target := s.sip.Addr().String()

	mute, _ := testphone.New("+495132000111", "127.0.0.1")
	defer mute.Close()
	silent, err := mute.Dial(ctx, target, "+495132115", nil) // Lehrte: nobody logged in
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-silent.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("a caller without RTP was not ended")
	}
	if row := waitCDR(t, cfg.CDR.Dir, silent.CallID, 3*time.Second); row["disposition"] != "failed" || row["hangup_by"] != "media-timeout" {
		t.Errorf("cdr %v, want failed by media-timeout", row)
	}

	agent, _ := testphone.New("1003", "127.0.0.1")
	defer agent.Close()
	if res, err := agent.Register(ctx, target, "demo1003", 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("register: %v %v", res, err)
	}
	caller, _ := testphone.New("+495136000222", "127.0.0.1")
	defer caller.Close()
	call, err := caller.Dial(ctx, target, "+495136115", nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = in.RTP.Send(0, make([]byte, 160), 200) }() // the agent keeps talking
	_ = call.RTP.Send(8, make([]byte, 160), 25)                // the caller's phone dies after 0.5 s
	for _, leg := range []<-chan struct{}{call.Ended(), in.Ended()} {
		select {
		case <-leg:
		case <-time.After(5 * time.Second):
			t.Fatal("legs not ended after the caller's RTP stopped")
		}
	}
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 3*time.Second)
	if row["disposition"] != "answered" || row["hangup_by"] != "media-timeout" || row["agent"] != "1003" {
		t.Errorf("cdr %v, want answered, ended by media-timeout", row)
	}
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	if l := metricLine(body, "sc115_media_timeouts_total "); l == "" || strings.HasSuffix(l, " 0") {
		t.Errorf("media timeouts metric: %q", l)
	}
}

// TestCallerHearsGreetingPositionWaitThenHold listens to what a queued
// caller receives: the greeting, "Sie sind an Position eins. Die
// voraussichtliche Wartezeit beträgt etwa drei Minuten." (nobody logged
// in: one round of the default 3 min handling time), then the hold track —
// every A-law frame in order, compared with the prompts.
func TestCallerHearsGreetingPositionWaitThenHold(t *testing.T) {
	cfg := testConfig(t)
	for i := range cfg.ACD.Municipalities {
		if cfg.ACD.Municipalities[i].Key == "lehrte" {
			cfg.ACD.Municipalities[i].Greeting = "feature-pause.wav" // a short greeting keeps the test short
		}
	}
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var want []string
	total := 0
	for _, name := range []string{"feature-pause", "position-intro", "num-1", "wait-intro", "num-3", "minutes"} {
		p, err := media.LoadWAV("../../prompts/de/" + name + ".wav")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < p.Frames(); i++ {
			want = append(want, string(p.Frame(media.PCMA, i)))
		}
		total += p.Frames()
	}
	hold, _ := media.LoadWAV("../../prompts/de/hold.wav")
	for i := 0; i < 25; i++ {
		want = append(want, string(hold.Frame(media.PCMA, i)))
	}
	caller, _ := testphone.New("+495132444555", "127.0.0.1")
	defer caller.Close()
	call, err := caller.Dial(ctx, s.sip.Addr().String(), "+495132115", []string{"8 PCMA/8000"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Duration(len(want)+50) * 20 * time.Millisecond)
	for len(call.RTP.Received()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	got := call.RTP.Received()
	if len(got) < len(want) {
		t.Fatalf("received %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i].Payload) != want[i] {
			t.Fatalf("frame %d of %d is not the expected audio (announcement is %d frames, then hold)", i, len(want), total)
		}
		if i > 0 && (got[i].Header.SequenceNumber != got[i-1].Header.SequenceNumber+1 || got[i].Header.Timestamp != got[i-1].Header.Timestamp+160) {
			t.Fatalf("frame %d: sequence/timestamp not continuous", i)
		}
	}
	_ = call.Bye(ctx)
}

// TestHoldAndResumeByReInvite: the caller's phone holds the call
// (re-INVITE a=sendonly → 200 a=recvonly): the agent's audio no longer
// reaches it; it resumes (a=sendrecv) and hears the agent again; the CDR
// counts the hold time.
func TestHoldAndResumeByReInvite(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	agent, _ := testphone.New("1003", "127.0.0.1")
	defer agent.Close()
	if res, err := agent.Register(ctx, target, "demo1003", 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("register: %v %v", res, err)
	}
	caller, _ := testphone.New("+495136111222", "127.0.0.1")
	defer caller.Close()
	call, err := caller.Dial(ctx, target, "+495136115", []string{"8 PCMA/8000"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	talk := make(chan struct{})
	go func() { // the agent talks all along
		for {
			select {
			case <-talk:
				return
			default:
				_ = in.RTP.Send(0, make([]byte, 160), 5)
			}
		}
	}()
	defer close(talk)
	go func() { _ = call.RTP.Send(8, make([]byte, 160), 150) }() // and so does the caller (no media timeout)
	time.Sleep(500 * time.Millisecond)

	res, err := call.ReInvite(ctx, "sendonly")
	if err != nil || res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("hold: %v %v", res, err)
	}
	time.Sleep(100 * time.Millisecond)
	call.RTP.Reset()
	time.Sleep(time.Second)
	if n := len(call.RTP.Received()); n > 2 {
		t.Errorf("on hold, the caller still got %d packets", n)
	}
	res, err = call.ReInvite(ctx, "sendrecv")
	if err != nil || res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=sendrecv") {
		t.Fatalf("resume: %v %v", res, err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(call.RTP.Received()); n < 5 {
		t.Errorf("after resume the caller got %d packets, want the agent's audio again", n)
	}
	_ = call.Bye(ctx)
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 5*time.Second)
	hold, _ := strconv.Atoi(row["hold_ms"])
	if hold < 1000 || hold > 2500 || row["disposition"] != "answered" {
		t.Errorf("cdr hold_ms=%s disposition=%s, want ~1100 ms, answered", row["hold_ms"], row["disposition"])
	}
}
