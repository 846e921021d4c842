package queue

import (
	"context"
	"testing"
	"time"
)

// TestHealingPrimitives: a login never frees an agent engaged with a call
// that exists; EngagedAgents shows who is on which call and who owns it
// (nobody, once the call is gone); ReleaseStuck frees only the engagement
// it was shown (not while the assignment waits for delivery, not a newer
// one); Arrive records a call before it is queued and reads crisis mode;
// Unqueue takes a call out of its queues but keeps its record.
func TestHealingPrimitives(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock(s)
		ctx := context.Background()
		skills := []AgentSkill{{Skill: "burgdorf", Level: 5}}
		if _, err := s.AgentReady(ctx, "a1", "i1", skills); err != nil {
			t.Fatal(err)
		}
		if crisis, err := s.Arrive(ctx, "c1", "i1", "burgdorf", map[string]string{"id": "c1", "arrived": "1"}); err != nil || crisis {
			t.Fatalf("arrive: %v %v", crisis, err)
		}
		if n, _ := s.OwnedCalls(ctx, "i1"); n != 1 {
			t.Errorf("after Arrive the instance owns %d calls, want 1 (the reaper must find it)", n)
		}
		m, err := s.Enqueue(ctx, "c1", "i1", Score(5, time.Now()), burgdorf(1), nil)
		if err != nil || m == nil || m.AgentID != "a1" {
			t.Fatalf("enqueue: %+v %v", m, err)
		}
		// Logging in again (a phone re-registering) keeps the reservation.
		if m, _ := s.AgentReady(ctx, "a1", "i2", skills); m != nil {
			t.Errorf("login while reserved matched %+v", m)
		}
		if a, _ := s.Agent(ctx, "a1"); a.State != "reserved" || a.Call != "c1" {
			t.Fatalf("a1 %+v after a login while reserved, want still reserved for c1", a)
		}
		g, err := s.EngagedAgents(ctx, []string{"a1", "nobody"})
		if err != nil || len(g) != 2 || g[0].Agent != "a1" || g[0].Call != "c1" || g[0].CallOwner != "i1" || !g[0].Pending || !g[1].Missing {
			t.Fatalf("engaged %+v %v, want a1 on c1 owned by i1, its assignment pending; nobody missing", g, err)
		}
		// The assignment is still on i1's list: not stuck.
		if _, ok, err := s.ReleaseStuck(ctx, "a1", "c1", g[0].Since, "reserved"); ok || err != nil {
			t.Errorf("released while the assignment waits: %v %v", ok, err)
		}
		if a, _ := s.NextAssignment(ctx, "i1", time.Second); a == nil || a.CallID != "c1" {
			t.Fatalf("assignment %+v", a)
		}
		if g, _ := s.EngagedAgents(ctx, []string{"a1"}); len(g) != 1 || g[0].Pending {
			t.Errorf("engaged %+v after the assignment was taken, want not pending", g)
		}
		if _, ok, _ := s.ReleaseStuck(ctx, "a1", "c1", g[0].Since+1, "reserved"); ok {
			t.Error("released an engagement since another moment")
		}
		if _, ok, _ := s.ReleaseStuck(ctx, "a1", "c1", g[0].Since, "on-call"); ok {
			t.Error("released an engagement in another state")
		}
		// The call ends; the agent's release is lost: nobody owns c1.
		if _, err := s.RemoveCall(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		if g, _ := s.EngagedAgents(ctx, []string{"a1"}); len(g) != 1 || g[0].CallOwner != "" {
			t.Fatalf("engaged %+v, want a1 on c1 owned by nobody", g)
		}
		if _, ok, err := s.ReleaseStuck(ctx, "a1", "c1", g[0].Since, "reserved"); !ok || err != nil {
			t.Fatalf("release stuck: %v %v", ok, err)
		}
		if a, _ := s.Agent(ctx, "a1"); a.State != "available" {
			t.Errorf("a1 %+v, want available", a)
		}
		// Crisis mode is read with the arrival; a claimed agent is on-call.
		_ = s.SetCrisis(ctx, "burgdorf", true, "test")
		if crisis, _ := s.Arrive(ctx, "c2", "i1", "burgdorf", nil); !crisis {
			t.Error("Arrive did not see crisis mode")
		}
		if ok, _ := s.Claim(ctx, "a1", "c2"); !ok {
			t.Error("claim of an available agent failed")
		}
		if a, _ := s.Agent(ctx, "a1"); a.State != "on-call" || a.Call != "c2" {
			t.Errorf("a1 %+v after claim, want on-call for c2", a)
		}
		if ok, _ := s.Claim(ctx, "a1", "c3"); ok {
			t.Error("claimed an agent on another call")
		}
		// Unqueue: out of the queue, still owned.
		if _, err := s.Enqueue(ctx, "c4", "i1", Score(5, time.Now()), burgdorf(1), nil); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.Unqueue(ctx, "c4", "overflowing"); !ok {
			t.Error("unqueue of a waiting call: false")
		}
		if ok, _ := s.Unqueue(ctx, "c4", "overflowing"); ok {
			t.Error("unqueue twice: true")
		}
		if n, _ := s.Waiting(ctx, "burgdorf"); n != 0 {
			t.Errorf("%d waiting after unqueue", n)
		}
		if n, _ := s.OwnedCalls(ctx, "i1"); n != 2 {
			t.Errorf("owned calls %d, want c2 and c4", n)
		}
	})
}

// TestEnqueueAttemptRunsOnce: an enqueue retried with its attempt name
// after a lost reply changes nothing — no second agent reserved, no
// second assignment, no waiting entry for a reserved call — while a new
// attempt (the call back after an unanswered offer) is placed again.
func TestEnqueueAttemptRunsOnce(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock(s)
		ctx := context.Background()
		for _, a := range []string{"a1", "a2"} {
			if _, err := s.AgentReady(ctx, a, "i1", []AgentSkill{{Skill: "burgdorf", Level: 5}}); err != nil {
				t.Fatal(err)
			}
		}
		score := Score(5, time.Now())
		if m, err := s.EnqueueAttempt(ctx, "i1#1", "c1", "i1", score, burgdorf(1), nil); err != nil || m == nil {
			t.Fatalf("first run: %+v %v", m, err)
		}
		if m, err := s.EnqueueAttempt(ctx, "i1#1", "c1", "i1", score, burgdorf(1), nil); err != nil || m != nil {
			t.Fatalf("the same attempt again: %+v %v, want nothing done", m, err)
		}
		reserved := 0
		for _, a := range []string{"a1", "a2"} {
			if info, _ := s.Agent(ctx, a); info.State == "reserved" {
				reserved++
			}
		}
		if reserved != 1 {
			t.Errorf("%d agents reserved for one call, want 1", reserved)
		}
		if n, _ := s.Waiting(ctx, "burgdorf"); n != 0 {
			t.Errorf("%d waiting, want 0: the call is reserved", n)
		}
		if a, _ := s.NextAssignment(ctx, "i1", time.Second); a == nil || a.CallID != "c1" {
			t.Fatalf("assignment %+v", a)
		}
		if a, _ := s.NextAssignment(ctx, "i1", 100*time.Millisecond); a != nil {
			t.Errorf("a second assignment %+v", a)
		}
		// A new attempt is a new enqueue: it is placed (the other agent).
		if m, err := s.EnqueueAttempt(ctx, "i1#2", "c1", "i1", score, burgdorf(1), nil); err != nil || m == nil {
			t.Errorf("a new attempt: %+v %v, want a match", m, err)
		}
	})
}
