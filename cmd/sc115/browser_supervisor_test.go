package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/testphone"
	"github.com/sc115/sc115/queue"
)

// TestSupervisorInChromium (issue 15) in a real headless browser: the
// supervisor signs in and lands on the supervisor view; it switches
// Burgdorf's crisis mode on (the card shows KRISE, the store has it) and
// pauses agent 1001 (registered by its phone); both actions are in the
// audit log on the page with who did them. Agent 1001 pausing itself
// through the API is no audit entry. Screenshot at 1920×1080.
func TestSupervisorInChromium(t *testing.T) {
	ctx := browserContext(t, 1920, 1080)
	cfg := testConfig(t)
	s := startTest(t, cfg)
	base := "http://" + s.httpLn.Addr().String()
	agentPhone(t.Context(), t, s.sip.Addr().String(), "1001")
	waitAgent(t, s, "1001", acd.AgentAvailable)
	browserSignIn(t, ctx, base+"/login", "aufsicht", "demo-aufsicht", "crisis-burgdorf")
	click(t, ctx, "#crisis-burgdorf")
	waitText(t, ctx, "#muni-burgdorf", "KRISE")
	if on, err := s.store.Crisis(t.Context(), "burgdorf"); err != nil || !on {
		t.Errorf("crisis mode in the store: %v %v", on, err)
	}
	waitText(t, ctx, "#agent-1001", "Frei")
	click(t, ctx, "#agent-1001 button")
	waitAgent(t, s, "1001", acd.AgentPaused)
	waitText(t, ctx, "#audit", "Pause")
	waitText(t, ctx, "#audit", "Krisenmodus")
	waitText(t, ctx, "#audit", "aufsicht")
	time.Sleep(1200 * time.Millisecond) // the next picture shows the pause
	screenshot(t, ctx, "supervisor-1920x1080.png")

	// The agent's own actions are not audited.
	if err := s.engine.Ready("1001"); err != nil {
		t.Fatal(err)
	}
	ag, csrf := webClient(t, base, "agent1001", "demo-agent1001")
	if code, body := call(t, ag, "POST", base+"/api/agents/1001/pause?reason=lunch", csrf); code != 200 {
		t.Fatalf("agent pauses itself: %d %s", code, body)
	}
	entries, err := s.engine.AuditLog(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.By == "agent1001" {
			t.Errorf("the agent's own pause was audited: %+v", e)
		}
	}
	if len(entries) != 2 || entries[0].What != "agent-pause" || entries[0].By != "aufsicht" || entries[0].Subject != "1001" ||
		entries[1].What != "crisis" || entries[1].Subject != "burgdorf" {
		t.Errorf("audit log %+v, want the pause then the crisis switch, by aufsicht", entries)
	}
}

// TestSupervisorWaitingCallsInChromium (issue 15): on the supervisor view
// a Lehrte caller (nobody of Lehrte logged in) appears as waiting, at
// priority 5; the supervisor switches Lehrte's crisis mode on and the
// next caller comes in at the crisis priority 8, ahead of the first; the
// supervisor moves the first caller to Hannover's queue, where agent 1001
// (Hannover and Burgdorf) takes it at once — its phone rings.
func TestSupervisorWaitingCallsInChromium(t *testing.T) {
	ctx := browserContext(t, 1920, 1080)
	cfg := testConfig(t)
	s := startTest(t, cfg)
	base := "http://" + s.httpLn.Addr().String()
	callCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	phone := agentPhone(callCtx, t, s.sip.Addr().String(), "1001")
	waitAgent(t, s, "1001", acd.AgentAvailable)
	browserSignIn(t, ctx, base+"/supervisor", "aufsicht", "demo-aufsicht", "crisis-lehrte")
	dial := func(from string) {
		ph, err := testphone.New(from, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ph.Close)
		if _, err := ph.Dial(callCtx, s.sip.Addr().String(), "+495132115", nil); err != nil {
			t.Fatal(err)
		}
	}
	dial("+495132100001")
	waitText(t, ctx, "#wait-0 .prio", "5")
	click(t, ctx, "#crisis-lehrte")
	waitText(t, ctx, "#muni-lehrte", "KRISE")
	dial("+495132100002")
	waitText(t, ctx, "#wait-0 .prio", "8") // the crisis call is first now
	waitText(t, ctx, "#wait-1 .prio", "5")
	screenshot(t, ctx, "supervisor-waiting-1920x1080.png")
	// Choose as a user does (the choice must outlive the next pictures),
	// then move.
	if err := chromedp.Do(ctx, chromedp.SetValue("#wait-1 select", "hannover"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#wait-1 select").dispatchEvent(new Event("change"))`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // two more pictures re-render the table
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#wait-1 select").value`)); err != nil || v != "hannover" {
		t.Fatalf("the chosen queue after the next pictures: %q %v", v, err)
	}
	click(t, ctx, "#wait-1 .move")
	if _, err := phone.NextIncoming(callCtx); err != nil {
		t.Fatalf("agent 1001 did not get the moved call: %v", err)
	}
	waitAgent(t, s, "1001", acd.AgentOnCall)
	waitText(t, ctx, "#audit", "Verschoben")
}

// TestBillingPageInChromium (issue 15): the billing office signs in,
// lands on its page, picks October 2026 and sees Burgdorf's invoice of
// 9,00 € with the download links. Screenshot at 1280×800.
func TestBillingPageInChromium(t *testing.T) {
	ctx := browserContext(t, 1280, 800)
	cfg := testConfig(t)
	writeOctober(t, cfg.CDR.Dir)
	s := startTest(t, cfg)
	base := "http://" + s.httpLn.Addr().String()
	browserSignIn(t, ctx, base+"/login", "abrechnung", "demo-abrechnung", "period")
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("period"), "2026-10")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "#pick button")
	waitText(t, ctx, "#inv-burgdorf", "9,00")
	waitText(t, ctx, "#links", "Verbindungsdaten")
	screenshot(t, ctx, "billing-2026-10-1280x800.png")
}

// TestSupervisorCallbacksInChromium (issue 16): the supervisor view
// lists the callbacks — a failed one first, with the number to call by
// hand, then a parked one with why and until when. "Jetzt versuchen" puts
// the parked one back at its place at once; "Erledigt" removes the failed
// one; both are in the audit log.
func TestSupervisorCallbacksInChromium(t *testing.T) {
	ctx := browserContext(t, 1920, 1080)
	cfg := testConfig(t)
	cfg.ACD.Callback = acd.Callback{Enabled: true}
	s := startTest(t, cfg)
	base := "http://" + s.httpLn.Addr().String()
	bg := context.Background()
	arrived := time.Now().Add(-20 * time.Minute)
	book := func(id string, attempts int) {
		fields := map[string]string{"id": id, "municipality": "burgdorf", "caller": "+495136123xxx", "privacy": "shortened",
			"arrived": strconv.FormatInt(arrived.UnixMilli(), 10)}
		if _, err := s.store.Enqueue(bg, id, cfg.Instance, queue.Score(5, arrived), []queue.Target{{Skill: "burgdorf", MinLevel: 1}}, fields); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.store.RequestCallback(bg, id, map[string]string{"cb_number": "05136123456",
			"cb_requested": strconv.FormatInt(arrived.Add(time.Minute).UnixMilli(), 10), "cb_attempts": strconv.Itoa(attempts)}); !ok || err != nil {
			t.Fatalf("request callback %s: %v %v", id, ok, err)
		}
	}
	book("cb-parked", 1)
	if err := s.store.ParkCallback(bg, "cb-parked", time.Now().Add(10*time.Minute), map[string]string{"cb_parked": "not-reached"}); err != nil {
		t.Fatal(err)
	}
	book("cb-failed", 3)
	if err := s.store.FailCallback(bg, "cb-failed", nil); err != nil {
		t.Fatal(err)
	}
	browserSignIn(t, ctx, base+"/supervisor", "aufsicht", "demo-aufsicht", "callbacks")
	waitText(t, ctx, "#cb-0 .st", "fehlgeschlagen um")
	waitText(t, ctx, "#cb-0 .num", "05136123456")
	waitText(t, ctx, "#cb-1 .st", "geparkt (nicht erreicht) bis")
	if err := chromedp.Do(ctx, chromedp.ScrollIntoView("#callbacks")); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "supervisor-callbacks-1920x1080.png")
	click(t, ctx, "#cb-1 .retry")
	waitText(t, ctx, "#cb-1 .st", "wartet an seinem Platz")
	click(t, ctx, "#cb-0 .dismiss")
	waitText(t, ctx, "#cb-0 .st", "wartet an seinem Platz")
	waitText(t, ctx, "#audit", "Rückruf erledigt")
	waitText(t, ctx, "#audit", "Rückruf jetzt")
	cbs, err := s.engine.Callbacks(bg)
	if err != nil || len(cbs) != 1 || cbs[0].CallID != "cb-parked" || cbs[0].State != "waiting" {
		t.Fatalf("callbacks after the supervisor's actions: %+v, %v", cbs, err)
	}
}
