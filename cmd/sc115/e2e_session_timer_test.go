package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sc115/sc115/internal/testphone"
)

// TestSessionTimerEndsAnUnrefreshedCall (RFC 4028, issue 12): a trunk
// call asking for a 60 s session interval gets 422 with Min-SE: 90; one
// asking for 90 s is answered with Session-Expires: 90;refresher=uac and
// Require: timer. The caller sends no RTP (as if on hold) and refreshes
// once, with an UPDATE 20 s in (answered 200 with Session-Expires), then
// never again: sc115 sends BYE not before 60 s after that refresh (the
// refresh counted) and before its 90 s ran out, and the CDR says
// session-expired. (90 s is the RFC's floor, so this test takes ~80 s.)
func TestSessionTimerEndsAnUnrefreshedCall(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a 90 s session interval")
	}
	// Parallel: the test idles for its 80 s, so it runs beside the other
	// long waiter (TestSipviciousLearnsNothing), its own instance and
	// ports, once the package's serial tests are done — a minute and more
	// off CI, which must stay under 20 minutes on a fresh machine.
	t.Parallel()
	cfg := testConfig(t)
	cfg.Media.FirstPacketTimeout = 10 * time.Minute // only the session timer may end this call
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	caller, err := testphone.New("+495136123456", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	target := s.sip.Addr().String()
	expectCode(t, "Session-Expires below Min-SE", 422, dialErr(caller.Dial(ctx, target, "05136115", []string{"8 PCMA/8000"},
		sip.NewHeader("Supported", "timer"), sip.NewHeader("Session-Expires", "60"))))
	start := time.Now()
	call, err := caller.Dial(ctx, target, "05136115", []string{"8 PCMA/8000"}, sip.NewHeader("Supported", "timer"), sip.NewHeader("Session-Expires", "90"))
	if err != nil {
		t.Fatal(err)
	}
	if h := call.Res.GetHeader("Session-Expires"); h == nil || h.Value() != "90;refresher=uac" {
		t.Errorf("Session-Expires in the 200: %v", h)
	}
	if h := call.Res.GetHeader("Require"); h == nil || !strings.Contains(h.Value(), "timer") {
		t.Errorf("Require in the 200: %v", h)
	}
	select {
	case <-call.Ended():
		t.Fatal("the call ended before its refresh")
	case <-time.After(20 * time.Second):
	}
	res, err := call.Update(ctx)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("UPDATE refresh: %v %v", res, err)
	}
	refreshed := time.Now()
	if h := res.GetHeader("Session-Expires"); h == nil || h.Value() != "90;refresher=uac" {
		t.Errorf("Session-Expires in the UPDATE's 200: %v", h)
	}
	select {
	case <-call.Ended():
	case <-ctx.Done():
		t.Fatal("sc115 never ended the unrefreshed session")
	}
	d := time.Since(refreshed)
	t.Logf("BYE %v after the refresh, %v after the answer", d.Round(time.Second), time.Since(start).Round(time.Second))
	if d < 60*time.Second || d >= 90*time.Second {
		t.Errorf("BYE %v after the refresh, want between 60 s (90 s less the RFC's margin) and 90 s", d)
	}
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute)
	if row["hangup_by"] != "session-expired" {
		t.Errorf("CDR hangup_by %q, want session-expired", row["hangup_by"])
	}
}
