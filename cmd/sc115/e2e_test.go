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

	agent := agentPhone(ctx, t, target, "1003")
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
	before := time.Now() // every duration sc115 measures lies within what the test saw
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
	if len(heard) == 0 {
		t.Fatal("caller heard nothing while the agent's phone rang (600 ms)")
	}
	if heard[0].Header.PayloadType != 8 || string(heard[0].Payload) != string(greeting.Frame(media.PCMA, 0)) {
		t.Errorf("first packet to caller is not the greeting's first A-law frame (pt %d)", heard[0].Header.PayloadType)
	}
	call.RTP.Reset()

	// Media both ways: the caller speaks A-law, the agent µ-law.
	talkBothWays(t, call, in, nil)

	// The caller hangs up: the agent's leg ends too.
	hangup := time.Now()
	if err := call.Bye(ctx); err != nil {
		t.Fatalf("bye: %v", err)
	}
	select {
	case <-in.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("agent leg not ended after caller BYE")
	}

	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 5*time.Second)
	written := time.Now()
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
	// Lower bounds: the agent rang 600 ms, the caller talked 50 frames
	// (1 s), wrap-up is 300 ms; upper bounds: what the test itself saw.
	assertMS(t, row, "wait_ms", 500, int(hangup.Sub(before).Milliseconds()))
	assertMS(t, row, "talk_ms", 900, int(written.Sub(before).Milliseconds()))
	assertMS(t, row, "wrapup_ms", 300, int(written.Sub(hangup).Milliseconds()))

	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	for _, m := range []string{`sc115_calls_offered_total{municipality="burgdorf"} 1`, `sc115_calls_answered_total{municipality="burgdorf"} 1`} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
}

// talkFrames are what a test caller (A-law) and agent (µ-law) say: two
// frames no prompt contains, so what each side hears can be told apart.
func talkFrames() (caller, agent []byte) {
	caller, agent = make([]byte, 160), make([]byte, 160)
	for i := range caller {
		caller[i] = byte(0x55 ^ i)
		agent[i] = byte(0x80 + i%60)
	}
	return caller, agent
}

// waitHeard waits (however slow the machine) until received holds min
// packets with pt and payload, then checks them as assertHeard does.
func waitHeard(t *testing.T, who string, received func() []testphone.Packet, pt uint8, payload []byte, min int) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		n := 0
		for _, p := range received() {
			if p.Header.PayloadType == pt && string(p.Payload) == string(payload) {
				n++
			}
		}
		if n >= min {
			break
		}
	}
	assertHeard(t, who, received(), pt, payload, min)
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
	before := time.Now()
	call, err := caller.Dial(ctx, s.sip.Addr().String(), "+495132115", nil,
		sip.NewHeader("Privacy", "id"))
	if err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	// The caller stays at least a second and until it heard 40 packets.
	for deadline := time.Now().Add(15 * time.Second); (len(call.RTP.Received()) < 40 || time.Since(answered) < time.Second) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(call.RTP.Received()); n < 40 {
		t.Errorf("queued caller heard %d packets, want ≥ 40 of the greeting and hold audio", n)
	}
	if err := call.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	within := time.Since(before) // the wait sc115 measured lies within this
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 5*time.Second)
	want := "abandoned_short" // under cdr.short_abandon (5 s)
	if w, _ := strconv.Atoi(row["wait_ms"]); w >= 5000 {
		want = "abandoned" // a slow machine kept the call longer
	}
	if row["disposition"] != want || row["municipality"] != "lehrte" || row["caller"] != "anonymous" || row["agent"] != "" {
		t.Errorf("cdr = %v, want %s lehrte, caller anonymous (withheld), no agent", row, want)
	}
	assertMS(t, row, "wait_ms", 1000, int(within.Milliseconds()))
}

// TestDrainRefusesNewCallsAndEndsWaitingOnes is what SIGTERM does: new
// INVITEs get 503 (and a trunk's OPTIONS probe too), a waiting caller is
// let be for the drain time, then hears BYE, and its CDR says interrupted.
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
	drainStart := time.Now()
	go func() { s.engine.Drain(context.Background()); close(drained) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if code, _ := httpGet(t, "http://"+s.httpLn.Addr().String()+"/readyz"); code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never said 503 while draining")
		}
	}
	expectCode(t, "new call while draining", 503, dialErr(caller.Dial(ctx, target, "+495031115", nil)))
	// A front proxy probing with OPTIONS (from the trunk) learns it too.
	opt := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(s.sip.Addr().Port())})
	if res, err := caller.Do(ctx, opt); err != nil || res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Errorf("OPTIONS from the trunk while draining: %v %v, want 503 with Retry-After", res, err)
	}
	select {
	case <-waiting.Ended():
	case <-time.After(30 * time.Second):
		t.Fatal("waiting call not ended after the drain time")
	}
	if since := time.Since(drainStart); since < cfg.ACD.DrainTime {
		t.Errorf("waiting call ended %v after the drain began, before the drain time %v", since, cfg.ACD.DrainTime)
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
	agent := agentPhone(ctx, t, target, "1005")
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
