package acd

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
)

// TestOverloadedInstanceRefusesWithoutOverflowRules: a municipality with
// no overflow block still has the instance's load limit. With max_calls 1
// and one call waiting, the next INVITE gets 503 with Retry-After and a
// rejected_busy CDR with sip_code 503; the waiting call is untouched.
func TestOverloadedInstanceRefusesWithoutOverflowRules(t *testing.T) {
	e, _, s := testEngine(t, func(c *Config) { c.MaxCalls = 1; c.RetryAfter = 45 * time.Second })
	_ = e.Login("a1")
	_ = e.Pause("a1", "x")
	first := newFakeLeg("c-first", "+495136115")
	go e.HandleCall(first)
	waitCallState(t, e, "c-first", StateQueued)

	second := newFakeLeg("c-second", "+495136115")
	go e.HandleCall(second)
	select {
	case code := <-second.rejected:
		if code != 503 || second.retryAfter != 45*time.Second {
			t.Errorf("second call: %d with Retry-After %v, want 503 with 45s", code, second.retryAfter)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second call was not refused")
	}
	r := waitRec(t, s)
	if r.CallID != "c-second" || r.Disposition != cdr.RejectedBusy || r.SIPCode != 503 || r.Municipality != "burgdorf" || r.HangupBy != "system" {
		t.Errorf("cdr %+v, want c-second rejected_busy 503 for burgdorf", r)
	}
	if st := callState(e, "c-first"); st != StateQueued {
		t.Errorf("first call is %q, want it still queued", st)
	}
	first.end()
	if r := waitRec(t, s); r.CallID != "c-first" || r.Disposition != cdr.Abandoned {
		t.Errorf("cdr %+v, want c-first abandoned", r)
	}
}

// TestOverloadedCPURefuses: over acd.max_cpu_percent a new call gets 503
// even though its municipality has overflow rules that would forward it.
func TestOverloadedCPURefuses(t *testing.T) {
	cpu := &busyCPU{}
	e, d, s := testEngineDeps(t, func(d *Deps) { d.CPUTime = cpu.used }, func(c *Config) { c.MaxCPUPercent = 150 })
	withOverflow(e, OverflowRules{NoAgents: true})
	d.forwardOK = true
	cpu.set(true)
	for deadline := time.Now().Add(20 * time.Second); e.cpuPercent.Load() <= 150; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the sampler measured %d %%, want the fake clock's 900", e.cpuPercent.Load())
		}
	}
	leg := newFakeLeg("c-cpu", "+495136115")
	go e.HandleCall(leg)
	if code := <-leg.rejected; code != 503 || leg.retryAfter != 30*time.Second {
		t.Errorf("got %d with Retry-After %v, want 503 with the default 30s", code, leg.retryAfter)
	}
	if r := waitRec(t, s); r.Disposition != cdr.RejectedBusy || r.SIPCode != 503 {
		t.Errorf("cdr %+v, want rejected_busy 503", r)
	}
	if f := d.forwardList(); len(f) != 0 {
		t.Errorf("forwarded %v: an overloaded instance takes no new call", f)
	}
}

// sipRejected is an Answer error as the SIP layer returns it when it
// answered the INVITE with an error response itself.
type sipRejected int

func (c sipRejected) Error() string { return "rejected" }
func (c sipRejected) SIPCode() int  { return int(c) }

// TestNoRTPPortCDRSays503: when the SIP layer refuses the call itself
// (no RTP port free: 503), the CDR says 503 and rejected_busy, not 200.
func TestNoRTPPortCDRSays503(t *testing.T) {
	e, _, s := testEngine(t)
	leg := newFakeLeg("c-noport", "+495136115")
	leg.answerErr = errors.Join(errors.New("no RTP port free"), sipRejected(503))
	e.HandleCall(leg)
	if r := waitRec(t, s); r.SIPCode != 503 || r.Disposition != cdr.RejectedBusy || r.HangupBy != "system" {
		t.Errorf("cdr %+v, want sip_code 503, rejected_busy", r)
	}
}

// TestAgentUnknownToThisInstanceIsNotLeftReserved: another instance with a
// different agent list logged in "ghost"; the store reserves it for a call
// of this instance, which has no such agent. The agent is paused with a
// reason naming this instance (before, it stayed reserved forever) and the
// call keeps waiting, until an agent of this instance takes it.
func TestAgentUnknownToThisInstanceIsNotLeftReserved(t *testing.T) {
	e, d, s := testEngine(t)
	ctx := context.Background()
	if _, err := e.Store.AgentReady(ctx, "ghost", "other", []queue.AgentSkill{{Skill: "burgdorf", Level: 5}}); err != nil {
		t.Fatal(err)
	}
	leg := newFakeLeg("c-ghost", "+495136115")
	go e.HandleCall(leg)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		info, _ := e.Store.Agent(ctx, "ghost")
		if info.State == string(AgentPaused) {
			if info.Reason != "not-configured-on-t" {
				t.Errorf("ghost paused with reason %q, want not-configured-on-t", info.Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ghost is %+v, want paused", info)
		}
	}
	waitCallState(t, e, "c-ghost", StateQueued)
	e.AgentRegistered("a1")
	connect(t, d).Hangup()
	if r := waitRec(t, s); r.Disposition != cdr.Answered || r.Agent != "a1" {
		t.Errorf("cdr %+v, want answered by a1", r)
	}
}

// TestNewCallRateRefuses: over acd.max_new_calls_per_second (here one
// call in 100 s, burst 1) a new call gets 503 with Retry-After and a
// rejected_busy row, whatever its source; the call admitted before goes on.
func TestNewCallRateRefuses(t *testing.T) {
	e, _, s := testEngine(t, func(c *Config) { c.MaxNewCallsPerSecond = 0.01; c.RetryAfter = 7 * time.Second })
	_ = e.Login("a1")
	_ = e.Pause("a1", "x")
	first := newFakeLeg("c-rate-0", "+495136115")
	go e.HandleCall(first)
	waitCallState(t, e, "c-rate-0", StateQueued)
	for i := 1; i <= 4; i++ {
		leg := newFakeLeg(fmt.Sprintf("c-rate-%d", i), "+495136115")
		go e.HandleCall(leg)
		select {
		case code := <-leg.rejected:
			if code != 503 || leg.retryAfter != 7*time.Second {
				t.Errorf("call %d: %d with Retry-After %v, want 503 with 7s", i, code, leg.retryAfter)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("call %d over the rate was not refused", i)
		}
		if r := waitRec(t, s); r.Disposition != cdr.RejectedBusy || r.SIPCode != 503 || r.Municipality != "burgdorf" {
			t.Errorf("cdr %+v, want rejected_busy 503 for burgdorf", r)
		}
	}
	if st := callState(e, "c-rate-0"); st != StateQueued {
		t.Errorf("the admitted call is %q, want it still queued", st)
	}
	first.end()
	if r := waitRec(t, s); r.CallID != "c-rate-0" || r.Disposition != cdr.Abandoned {
		t.Errorf("cdr %+v, want c-rate-0 abandoned", r)
	}
}
