package acd

import (
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
)

// waitCallouts waits until the trunk was asked for n calls out.
func waitCallouts(t *testing.T, d *fakeDialer, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		d.mu.Lock()
		got := len(d.callouts)
		d.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls out, want %d", got, n)
		}
	}
}

func waitEnded(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not end", what)
	}
}

// TestSemiAttendedTransfer: the agent completes the transfer (REFER with
// Replaces) while its consultation call still rings: 202 at once; when
// the office answers, the caller gets it, the phone is told 200, both of
// the agent's calls end, and the row says attended.
func TestSemiAttendedTransfer(t *testing.T) {
	e, d, s := testEngine(t, withDirectory)
	d.outGate, d.outLegs = make(chan struct{}), make(chan *fakeAgentLeg, 1)
	leg, al := answeredByA1(t, e, d, "c-semi")
	consult := newFakeLeg("consult-semi", "buergerbuero")
	go e.Consult("a1", "buergerbuero", consult)
	waitCallouts(t, d, 1)
	if code := al.referReplacing("buergerbuero", "consult-other"); code != 403 {
		t.Errorf("REFER naming another consultation: %d, want 403", code)
	}
	if code := al.referReplacing("buergerbuero", "consult-semi"); code != 202 {
		t.Fatalf("REFER with Replaces while the office rings: %d, want 202", code)
	}
	close(d.outGate)
	office := <-d.outLegs
	waitNotified(t, al, 200)
	waitEnded(t, "the agent's call", al.Ended())
	waitEnded(t, "the consultation call", consult.Ended())
	select {
	case <-office.Ended():
		t.Fatal("the office's leg ended with the consultation: it is the caller's now")
	default:
	}
	waitCallState(t, e, "c-semi", StateConnected)
	office.Hangup()
	r := waitRec(t, s)
	if r.TransferKind != "attended" || r.TransferTarget != "+4951361890" || r.TransferredBy != "a1" || r.HangupBy != "transfer-target" {
		t.Errorf("cdr %+v", r)
	}
	waitEnded(t, "the caller's leg", leg.Ended())
}

// TestSemiAttendedTransferTargetBusy: the office refuses (486) after the
// REFER: the phone is told 486, the consultation call is refused with the
// same status, and the caller is back with the agent; no transfer in the
// row.
func TestSemiAttendedTransferTargetBusy(t *testing.T) {
	e, d, s := testEngine(t, withDirectory)
	d.outGate, d.outFail = make(chan struct{}), 486
	leg, al := answeredByA1(t, e, d, "c-semi-busy")
	consult := newFakeLeg("consult-busy", "+4951361899")
	go e.Consult("a1", "+4951361899", consult)
	waitCallouts(t, d, 1)
	if code := al.referReplacing("+4951361899", "consult-busy"); code != 202 {
		t.Fatalf("REFER with Replaces: %d", code)
	}
	close(d.outGate)
	waitNotified(t, al, 486)
	select {
	case code := <-consult.rejected:
		if code != 486 {
			t.Errorf("consultation call refused %d, want 486", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the consultation call was not refused")
	}
	waitCallState(t, e, "c-semi-busy", StateConnected)
	select {
	case <-al.Ended():
		t.Fatal("the agent's leg ended although the transfer failed")
	default:
	}
	leg.end()
	if r := waitRec(t, s); r.Disposition != cdr.Answered || r.TransferKind != "" {
		t.Errorf("cdr %+v", r)
	}
}

// TestConsultationNeedsACaller: an agent who talks with nobody cannot
// place a consultation call (403), nor consult the federation (a blind
// transfer's target), nor two at once (486).
func TestConsultationNeedsACaller(t *testing.T) {
	e, d, s := testEngine(t, withDirectory)
	e.fed = newFederation([]FederationTarget{{Name: "nord", URI: "sip:115@127.0.0.1:5071"}})
	e.AgentRegistered("a1")
	waitAgentState(t, e, "a1", AgentAvailable)
	lone := newFakeLeg("consult-lone", "#1")
	e.Consult("a1", "#1", lone)
	if code := <-lone.rejected; code != 403 {
		t.Errorf("consultation without a caller: %d, want 403", code)
	}
	leg := newFakeLeg("c-two", "+495136115")
	go e.HandleCall(leg)
	al := connect(t, d)
	waitCallState(t, e, "c-two", StateConnected)
	fed := newFakeLeg("consult-fed", "federation")
	e.Consult("a1", "federation", fed)
	if code := <-fed.rejected; code != 403 {
		t.Errorf("consultation with the federation: %d, want 403", code)
	}
	d.outGate = make(chan struct{})
	first := newFakeLeg("consult-1", "#1")
	go e.Consult("a1", "#1", first)
	waitCallouts(t, d, 1)
	second := newFakeLeg("consult-2", "#1")
	e.Consult("a1", "#1", second)
	if code := <-second.rejected; code != 486 {
		t.Errorf("a second consultation at once: %d, want 486", code)
	}
	// The caller hangs up while the consultation rings: it ends too.
	leg.end()
	waitEnded(t, "the ringing consultation", first.Ended())
	waitEnded(t, "the agent's leg", al.Ended())
	if r := waitRec(t, s); r.Disposition != cdr.Answered || r.TransferKind != "" {
		t.Errorf("cdr %+v", r)
	}
}

// TestConsultationWithAQueue: the agent consults "queue:burgdorf": the
// queue's first available agent (a2) rings and answers, is on a call; the
// REFER with Replaces hands the caller to a2 on the leg it answered; the
// row has both agents' parts and the transfer attended to the queue.
func TestConsultationWithAQueue(t *testing.T) {
	e, d, s := testEngine(t, withDirectory)
	_, al := answeredByA1(t, e, d, "c-consult-q")
	e.AgentRegistered("a2")
	waitAgentState(t, e, "a2", AgentAvailable)
	consult := newFakeLeg("consult-q", "queue:burgdorf")
	go e.Consult("a1", "queue:burgdorf", consult)
	a2 := connect(t, d)
	waitAgentState(t, e, "a2", AgentOnCall)
	if code := al.referReplacing("queue:burgdorf", "consult-q"); code != 202 {
		t.Fatalf("REFER with Replaces: %d", code)
	}
	waitNotified(t, al, 200)
	waitEnded(t, "the agent's call", al.Ended())
	waitEnded(t, "the consultation call", consult.Ended())
	time.Sleep(20 * time.Millisecond) // a2 talks with the caller
	select {
	case <-a2.Ended():
		t.Fatal("a2's leg ended with the consultation")
	default:
	}
	a2.Hangup()
	r := waitRec(t, s)
	if r.TransferKind != "attended" || r.TransferTarget != "queue:burgdorf" || r.Agent != "a1" ||
		!strings.HasPrefix(r.Segments, "a1:") || !strings.Contains(r.Segments, ";a2:") {
		t.Errorf("cdr %+v", r)
	}
	d.mu.Lock()
	offers := strings.Join(d.offers, ",")
	d.mu.Unlock()
	if !strings.Contains(offers, "a2:c-consult-q") {
		t.Errorf("offers %v: a2 was not rung for the call", offers)
	}
}
