package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
)

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
	ph := agentPhone(ctx, t, target, "1004") // SHA-256 is offered first
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
	ph := agentPhone(ctx, t, target, "1001")
	ph.Password = "demo1001"
	waitState := func(want acd.AgentState, reason string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
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
	agent := agentPhone(ctx, t, a.sip.Addr().String(), "1003") // registers at A
	waitAgent(t, b, "1003", acd.AgentAvailable)                // B sees the state in Redis
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
