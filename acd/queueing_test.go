package acd

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
)

func connect(t *testing.T, d *fakeDialer) *fakeAgentLeg {
	t.Helper()
	select {
	case l := <-d.legs:
		return l
	case <-time.After(20 * time.Second):
		t.Fatal("no agent leg")
		return nil
	}
}

// TestReadyEndsWrapUpEarlyAndCDRHasWrapup: wrap-up is a real state; the
// agent's "ready" (API) ends it early; the CDR carries the wrap-up time.
func TestReadyEndsWrapUpEarlyAndCDRHasWrapup(t *testing.T) {
	e, d, s := testEngine(t)
	e.cfg.Queue.Wrapup = time.Hour
	e.AgentRegistered("a1")
	leg := newFakeLeg("c-w", "+495136115")
	go e.HandleCall(leg)
	al := connect(t, d)
	waitCallState(t, e, "c-w", StateConnected)
	time.Sleep(50 * time.Millisecond) // at least 50 ms of talk
	leg.end()                         // caller hangs up
	<-al.ended
	waitAgentState(t, e, "a1", AgentWrapUp)
	time.Sleep(150 * time.Millisecond)
	if err := e.Ready("a1"); err != nil {
		t.Fatal(err)
	}
	r := waitRec(t, s)
	// Ready came after at least 150 ms of the hour's wrap-up.
	if r.Disposition != cdr.Answered || r.WrapupMS < 150 || r.WrapupMS > time.Minute.Milliseconds() || r.TalkMS < 50 {
		t.Errorf("cdr %+v, want answered with a wrap-up ended by ready after ≥150 ms", r)
	}
	waitAgentState(t, e, "a1", AgentAvailable)
}

// TestNoAnswersPauseAgent: after max_no_answers declined offers in a row
// the agent is paused with reason no-answer; the call waits on at its place.
func TestNoAnswersPauseAgent(t *testing.T) {
	e, d, _ := testEngine(t)
	e.cfg.Queue.NoAnswerRest = 20 * time.Millisecond
	d.decline["a1"] = true
	e.AgentRegistered("a1")
	leg := newFakeLeg("c-na", "+495136115")
	go e.HandleCall(leg)
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, _ := e.Store.Agent(context.Background(), "a1")
		if info.State == string(AgentPaused) && info.Reason == "no-answer" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a1 is %+v, want paused for no-answer", info)
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.mu.Lock()
	offers := len(d.offers)
	d.mu.Unlock()
	if offers != 2 {
		t.Errorf("%d offers, want 2 (max_no_answers)", offers)
	}
	// The pause is written just before the call goes back to its place.
	for {
		pos, _, err := e.Position(context.Background(), "c-na")
		if err == nil && pos == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("position %d %v, want 1", pos, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The agent comes back; the call goes to it.
	d.mu.Lock()
	d.decline["a1"] = false
	d.mu.Unlock()
	if err := e.Ready("a1"); err != nil {
		t.Fatal(err)
	}
	connect(t, d)
	leg.end()
}

// widenRecorder is the engine's store, noting which calls it widened.
type widenRecorder struct {
	Store
	mu      sync.Mutex
	widened map[string]bool
}

func (w *widenRecorder) Widen(ctx context.Context, callID string, ts []queue.Target) (*queue.Match, error) {
	m, err := w.Store.Widen(ctx, callID, ts)
	w.mu.Lock()
	w.widened[callID] = true
	w.mu.Unlock()
	return m, err
}

func (w *widenRecorder) both(a, b string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.widened[a] && w.widened[b]
}

// TestEscalationWidensAndKeepsPlace: Lehrte needs level 8; nobody has it.
// After 300 ms the queue lowers the level to 1; once both calls are
// widened, the junior (level 2) comes back from a pause and gets the
// older one first: widening kept its place. (The junior waits in a pause
// so the order of the two escalation timers on a busy machine cannot
// decide it.)
func TestEscalationWidensAndKeepsPlace(t *testing.T) {
	var rec *widenRecorder
	e, d, s := testEngineDeps(t, func(dp *Deps) { rec = &widenRecorder{Store: dp.Store, widened: map[string]bool{}}; dp.Store = rec })
	e.AgentRegistered("junior")
	waitAgentState(t, e, "junior", AgentAvailable)
	if err := e.Pause("junior", "x"); err != nil {
		t.Fatal(err)
	}
	first := newFakeLeg("c-esc-1", "+495132115")
	go e.HandleCall(first)
	waitCallSettled(t, e, first)
	second := newFakeLeg("c-esc-2", "+495132115")
	go e.HandleCall(second)
	for deadline := time.Now().Add(20 * time.Second); !rec.both("c-esc-1", "c-esc-2"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the calls were not widened")
		}
	}
	if err := e.Ready("junior"); err != nil {
		t.Fatal(err)
	}
	l := connect(t, d)
	d.mu.Lock()
	got := d.offers[0]
	d.mu.Unlock()
	if got != "junior:c-esc-1" {
		t.Errorf("first offer %s, want junior:c-esc-1 (the older call)", got)
	}
	l.Hangup()
	r := waitRec(t, s)
	if r.CallID != "c-esc-1" || r.Agent != "junior" || r.WaitMS < 300 {
		t.Errorf("cdr %+v, want c-esc-1 answered by junior only after the 300 ms escalation", r)
	}
	first.end()
	second.end()
}

func TestPositionAndEstimatedWait(t *testing.T) {
	e, _, _ := testEngine(t)
	e.cfg.DefaultHandleTime = 2 * time.Minute
	// Two agents logged in but paused: nobody takes calls, both count for the estimate.
	for _, a := range []string{"a1", "a2"} {
		_ = e.Login(a)
		if err := e.Pause(a, "meeting"); err != nil {
			t.Fatalf("pause %s: %v", a, err)
		}
	}
	var legs []*fakeLeg
	for _, id := range []string{"p1", "p2", "p3"} {
		l := newFakeLeg(id, "+495136115")
		legs = append(legs, l)
		go e.HandleCall(l)
		waitCallSettled(t, e, l) // arrivals in this order
	}
	pos, ewt, err := e.Position(context.Background(), "p3")
	if err != nil || pos != 3 || ewt != 4*time.Minute {
		t.Errorf("p3: position %d, wait %v, %v; want 3, 4m0s (2 rounds of 2 agents × 2 min)", pos, ewt, err)
	}
	for _, l := range legs {
		l.end()
	}
}

func TestAPI(t *testing.T) {
	e, _, _ := testEngine(t)
	e.AgentRegistered("a1")
	mux := http.NewServeMux()
	API(mux, e, nil)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, token string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v any
		_ = json.NewDecoder(res.Body).Decode(&v)
		m, _ := v.(map[string]any)
		if l, ok := v.([]any); ok {
			m = map[string]any{"list": l}
		}
		return res.StatusCode, m
	}
	if code, _ := do("GET", "/api/agents", ""); code != 403 {
		t.Errorf("no token: %d, want 403", code)
	}
	if code, _ := do("GET", "/api/agents", "wrong"); code != 403 {
		t.Errorf("wrong token: %d, want 403", code)
	}
	code, v := do("GET", "/api/agents", "secret")
	if code != 200 || len(v["list"].([]any)) != 3 {
		t.Errorf("list: %d %v", code, v)
	}
	if code, v := do("POST", "/api/agents/a1/pause?reason=lunch", "secret"); code != 200 || v["state"] != "paused" || v["reason"] != "lunch" {
		t.Errorf("pause: %d %v", code, v)
	}
	if code, v := do("POST", "/api/agents/a1/ready", "secret"); code != 200 || v["state"] != "available" {
		t.Errorf("ready: %d %v", code, v)
	}
	if code, v := do("POST", "/api/agents/a1/logout", "secret"); code != 200 || v["state"] != "logged-out" {
		t.Errorf("logout: %d %v", code, v)
	}
	if code, _ := do("POST", "/api/agents/a1/ready", "secret"); code != 409 {
		t.Errorf("ready while logged out: %d, want 409", code)
	}
	// Crisis mode switches only on on=true or on=false (issue 12, 8):
	// anything else is 400 and changes nothing.
	for _, q := range []string{"on=garbage", "on=0", "on=FALSE", "on=", ""} {
		if code, _ := do("POST", "/api/municipalities/burgdorf/crisis?by=x&"+q, "secret"); code != 400 {
			t.Errorf("crisis ?%s: %d, want 400", q, code)
		}
		if on, _ := e.Store.Crisis(context.Background(), "burgdorf"); on {
			t.Fatalf("crisis ?%s switched crisis mode on", q)
		}
	}
	if code, _ := do("POST", "/api/municipalities/burgdorf/crisis?on=true", "secret"); code != 400 {
		t.Errorf("crisis without by: %d, want 400", code)
	}
	if code, v := do("POST", "/api/municipalities/burgdorf/crisis?on=true&by=Lagezentrum", "secret"); code != 200 || v["crisis"] != true {
		t.Errorf("crisis on: %d %v", code, v)
	}
	if code, v := do("POST", "/api/municipalities/burgdorf/crisis?on=false&by=Lagezentrum", "secret"); code != 200 || v["crisis"] != false {
		t.Errorf("crisis off: %d %v", code, v)
	}
	if code, _ := do("POST", "/api/agents/nobody/login", "secret"); code != 404 {
		t.Errorf("unknown agent: %d, want 404", code)
	}
	if code, v := do("GET", "/api/queues", "secret"); code != 200 || len(v["list"].([]any)) != 2 {
		t.Errorf("queues: %d %v", code, v)
	}
}
