package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
	"github.com/sc115/sc115/sip/media"
)

// TestCallbackEndToEnd (issue 16, virtual hold) over real SIP and RTP,
// two instances on one redis-server, the citizen behind the trunk a sipp
// UAS:
//   - a caller at instance A hears the callback offer after its position,
//     presses 1 (RFC 4733), hears its number read back digit by digit,
//     confirms with 1, hears the thanks, and sc115 hangs up;
//   - A restarts: the callback is still there, waiting at its place;
//   - a later caller arrives at B and waits behind it;
//   - agent 1003 registers: its phone is rung for the callback first
//     ("Rückruf Burgdorf, wartet seit … min"), then the citizen is dialed
//     — busy (sipp answers 486): the agent is hung up and free for the
//     later caller, the callback parked;
//   - a supervisor has it tried again now; the agent answers, the citizen
//     (sipp, echoing RTP) answers, the agent hears its own voice back
//     through the citizen's leg; the agent hangs up;
//   - one CDR under the original call id: answered by 1003, two tries,
//     the callback's times; the citizen's INVITE went to the confirmed
//     number.
func TestCallbackEndToEnd(t *testing.T) {
	sipp := interop.Require(t, "sipp", "sip-tester")
	url := interop.RedisServer(t)
	citizenPort := interop.FreePort(t, "udp")
	mk := func(instance, rtp string) Config {
		cfg := testConfig(t)
		cfg.Queue.Redis, cfg.Instance, cfg.Media.RTPPorts = url, instance, rtp
		cfg.SIP.Trunks[0].Outbound = "sip:{number}@127.0.0.1:" + strconv.Itoa(citizenPort)
		cfg.ACD.Callback = acd.Callback{Enabled: true, OfferAlways: true, Tries: 3, RetryAfter: time.Hour,
			RingTimeout: 10 * time.Second, KeyTimeout: 20 * time.Second}
		for i := range cfg.ACD.Municipalities {
			if m := &cfg.ACD.Municipalities[i]; m.Key == "burgdorf" {
				m.Greeting = "feature-pause.wav" // short: the announcement and the offer follow at once
			}
		}
		return cfg
	}
	cfgA, cfgB := mk("a", "30000-30999"), mk("b", "40000-40999")
	b := startTest(t, cfgB)
	a, err := start(cfgA, zerolog.Nop()) // restarted below
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	load := func(name string) *media.Prompt { return loadPrompt(t, name) }

	// The caller books the callback at A.
	call := keysCaller(ctx, t, a.sip.Addr().String())
	at := untilHeard(t, call, load("callback-offer.wav"), 0)
	if err := call.RTP.SendDTMF(101, '1'); err != nil {
		t.Fatal(err)
	}
	at = untilHeard(t, call, load("callback-number.wav"), at)
	for _, d := range "05136123456" {
		name := "num-" + string(d) + ".wav"
		at = untilHeard(t, call, load(name), at+1)
	}
	at = untilHeard(t, call, load("callback-confirm.wav"), at)
	if err := call.RTP.SendDTMF(101, '1'); err != nil {
		t.Fatal(err)
	}
	untilHeard(t, call, load("callback-thanks.wav"), at)
	waitEnded(t, "the caller's call after booking", call.Ended())
	if rows := readCDRs(t, cfgA.CDR.Dir); len(rows) != 0 {
		t.Fatalf("CDR rows before the callback ran: %v", rows)
	}

	// A restarts; the callback is still waiting.
	a.shutdown(true)
	a = startTest(t, cfgA)
	cbs, err := b.engine.Callbacks(ctx)
	if err != nil || len(cbs) != 1 || cbs[0].CallID != call.CallID || cbs[0].State != "waiting" {
		t.Fatalf("after A restarted: callbacks %+v, %v", cbs, err)
	}

	// A later caller waits at B.
	laterPhone, err := testphone.New("+495136777666", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer laterPhone.Close()
	later, err := laterPhone.Dial(ctx, b.sip.Addr().String(), "05136115", []string{"8 PCMA/8000"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	busy := startSipp(ctx, t, sipp, dir, "busy", "-sf", "testdata/sipp/uas-busy.xml", "-m", "1", "-p", strconv.Itoa(citizenPort), "127.0.0.1:5999")

	// The agent logs in: rung for the callback first, then the citizen is busy.
	agent := agentPhone(ctx, t, a.sip.Addr().String(), "1003")
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := in.Req.GetHeader("X-115-Call-ID"); h == nil || h.Value() != call.CallID {
		t.Fatalf("the agent's first offer is for %v, want the callback %s", h, call.CallID)
	}
	if from := in.Req.From(); !strings.HasPrefix(from.DisplayName, "Rückruf Burgdorf, wartet seit ") || from.Address.User != "05136123456" {
		t.Errorf("the agent's phone shows %q <%s>, want the callback and the citizen's number", from.DisplayName, from.Address.User)
	}
	waitEnded(t, "the agent's leg after the busy citizen", in.Ended())
	if err := busy.Wait(); err != nil {
		t.Errorf("sipp busy: %v\n%s", err, readLogs(dir, "busy"))
	}
	next, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := next.Req.GetHeader("X-115-Call-ID"); h == nil || h.Value() != later.CallID {
		t.Fatalf("after the busy try the agent got %v, want the later caller %s", h, later.CallID)
	}
	talkBothWays(t, later, next, nil)
	_ = later.Bye(ctx)
	waitCDR(t, cfgB.CDR.Dir, later.CallID, time.Minute)
	cbs, _ = b.engine.Callbacks(ctx)
	if len(cbs) != 1 || cbs[0].State != "parked" || cbs[0].ParkedFor != "not-reached" || cbs[0].Attempts != 1 {
		t.Fatalf("callbacks after the busy try: %+v", cbs)
	}

	// Tried again now: the citizen answers (sipp echoes its RTP).
	citizen := startSipp(ctx, t, sipp, dir, "citizen", "-sn", "uas", "-m", "1", "-p", strconv.Itoa(citizenPort),
		"-mp", strconv.Itoa(interop.FreeMediaPort(t)), "-rtp_echo", "127.0.0.1:5999")
	if err := b.engine.RetryCallbackNow(ctx, call.CallID); err != nil {
		t.Fatal(err)
	}
	in, err = agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := in.Req.GetHeader("X-115-Call-ID"); h == nil || h.Value() != call.CallID {
		t.Fatalf("offer for %v, want the callback", h)
	}
	_, voice := talkFrames()
	echoed := func() bool {
		for _, p := range in.RTP.Received() {
			if bytes.Equal(p.Payload, voice) {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(30 * time.Second); !echoed(); {
		if time.Now().After(deadline) {
			t.Fatalf("the agent never heard its voice back through the citizen's leg\n%s", readLogs(dir, "citizen"))
		}
		if err := in.RTP.Send(0, voice, 10); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // a moment of talk
	_ = in.Bye(ctx)
	if err := citizen.Wait(); err != nil {
		t.Errorf("sipp citizen: %v\n%s", err, readLogs(dir, "citizen"))
	}
	var row map[string]string
	for deadline := time.Now().Add(time.Minute); row == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, d := range []string{cfgA.CDR.Dir, cfgB.CDR.Dir} {
			for _, r := range readCDRs(t, d) {
				if r["call_id"] == call.CallID {
					row = r
				}
			}
		}
	}
	if row == nil {
		t.Fatal("no CDR for the callback")
	}
	if row["disposition"] != "answered" || row["agent"] != "1003" || row["callback_attempts"] != "2" ||
		row["callback_requested_at"] == "" || row["callback_answered_at"] == "" || row["caller"] != "+495136123xxx" {
		t.Errorf("callback CDR %v", row)
	}
	msgs, _ := os.ReadFile(filepath.Join(dir, "citizen-messages.log"))
	if !strings.Contains(string(msgs), "INVITE sip:05136123456@127.0.0.1") {
		t.Errorf("the citizen's INVITE did not go to the confirmed number:\n%s", lastLines(string(msgs), 30))
	}
	if cbs, _ := b.engine.Callbacks(ctx); len(cbs) != 0 {
		t.Errorf("callbacks left: %+v", cbs)
	}
}

// untilHeard waits until the call has received p's middle frame (speech,
// not the silence prompts begin with) at or after packet from, and
// returns that packet's index.
func untilHeard(t *testing.T, call *testphone.Call, p *media.Prompt, from int) int {
	t.Helper()
	first := string(p.Frame(media.PCMA, p.Frames()/2))
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got := call.RTP.Received()
		for i := from; i < len(got); i++ {
			if string(got[i].Payload) == first {
				return i
			}
		}
	}
	t.Fatalf("never heard the prompt (%d frames long) after packet %d", p.Frames(), from)
	return 0
}

// TestCallbackTypedNumberEndToEnd (issue 16): a caller who withheld its
// number is never called back without asking: after pressing 1 it hears
// "Bitte geben Sie Ihre Rufnummer … ein", types 0511 3005 and #, hears
// it read back, confirms, and the callback waits with that number.
func TestCallbackTypedNumberEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	cfg.ACD.Callback = acd.Callback{Enabled: true, OfferAlways: true, KeyTimeout: 20 * time.Second}
	for i := range cfg.ACD.Municipalities {
		if m := &cfg.ACD.Municipalities[i]; m.Key == "burgdorf" {
			m.Greeting = "feature-pause.wav"
		}
	}
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	load := func(name string) *media.Prompt { return loadPrompt(t, name) }
	phone, err := testphone.New("+495136123456", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	call, err := phone.Dial(ctx, s.sip.Addr().String(), "05136115", []string{"8 PCMA/8000", "101 telephone-event/8000"},
		sip.NewHeader("Privacy", "id"))
	if err != nil {
		t.Fatal(err)
	}
	press := func(keys string) {
		for _, k := range keys {
			if err := call.RTP.SendDTMF(101, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	at := untilHeard(t, call, load("callback-offer.wav"), 0)
	press("1")
	at = untilHeard(t, call, load("callback-enter.wav"), at)
	press("05113005#")
	at = untilHeard(t, call, load("callback-number.wav"), at)
	for _, d := range "05113005" {
		at = untilHeard(t, call, load("num-"+string(d)+".wav"), at+1)
	}
	at = untilHeard(t, call, load("callback-confirm.wav"), at)
	press("1")
	untilHeard(t, call, load("callback-thanks.wav"), at)
	waitEnded(t, "the caller's call after booking", call.Ended())
	cbs, err := s.engine.Callbacks(ctx)
	if err != nil || len(cbs) != 1 || cbs[0].CallID != call.CallID || cbs[0].Caller != "anonymous" {
		t.Fatalf("callbacks %+v, %v: want the call, its caller withheld in the record", cbs, err)
	}
	if f, err := s.store.CallFields(ctx, call.CallID); err != nil || f["cb_number"] != "05113005" {
		t.Fatalf("the callback's number %q, %v: want the typed 05113005", f["cb_number"], err)
	}
}

// loadPrompt reads a shipped prompt as sc115 plays it.
func loadPrompt(t *testing.T, name string) *media.Prompt {
	t.Helper()
	p, err := media.LoadWAV("../../prompts/de/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
