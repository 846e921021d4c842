package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"github.com/sc115/sc115/internal/testphone"
)

// secondCallWhileOneWaits starts sc115 on cfg, places a call to Lehrte
// that waits (nobody is logged in for Lehrte), then a second one, and
// returns the second's final error response and Call-ID (the test fails
// if it is answered).
func secondCallWhileOneWaits(t *testing.T, cfg Config) (*sipgo.ErrDialogResponse, string) {
	t.Helper()
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	caller, err := testphone.New("+495132999888", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	waiting, err := caller.Dial(ctx, s.sip.Addr().String(), "+495132115", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Bye(ctx)
	call, err := caller.Dial(ctx, s.sip.Addr().String(), "+495132115", nil)
	var re *sipgo.ErrDialogResponse
	if !errors.As(err, &re) {
		if call != nil {
			_ = call.Bye(ctx)
		}
		t.Fatalf("second call: %v, want an error response", err)
	}
	return re, re.Res.CallID().Value()
}

// TestOverloadedInstanceAnswers503RetryAfter: Lehrte has no overflow
// rules; with acd.max_calls 1 and one caller waiting, the next INVITE gets
// 503 Service Unavailable with Retry-After (acd.retry_after), and its CDR
// says rejected_busy with sip_code 503.
func TestOverloadedInstanceAnswers503RetryAfter(t *testing.T) {
	cfg := testConfig(t)
	cfg.ACD.MaxCalls = 1
	cfg.ACD.RetryAfter = 45 * time.Second
	re, id := secondCallWhileOneWaits(t, cfg)
	if re.Res.StatusCode != 503 {
		t.Errorf("second call: %d, want 503", re.Res.StatusCode)
	}
	if h := re.Res.GetHeader("Retry-After"); h == nil || strings.TrimSpace(h.Value()) != "45" {
		t.Errorf("Retry-After %v, want 45", h)
	}
	row := waitCDR(t, cfg.CDR.Dir, id, 30*time.Second)
	if row["disposition"] != "rejected_busy" || row["sip_code"] != "503" || row["municipality"] != "lehrte" {
		t.Errorf("cdr %v, want rejected_busy with sip_code 503 for lehrte", row)
	}
}

// TestNoRTPPortAnswers503AndCDRSaysSo: with one RTP port pair, a waiting
// caller holds it; the next caller gets 503 and its CDR says sip_code 503
// (it said 200 before).
func TestNoRTPPortAnswers503AndCDRSaysSo(t *testing.T) {
	cfg := testConfig(t)
	var low int
	if _, err := fmt.Sscanf(freeRTPRange(t), "%d-", &low); err != nil {
		t.Fatal(err)
	}
	cfg.Media.RTPPorts = fmt.Sprintf("%d-%d", low, low+1) // one RTP/RTCP pair
	re, id := secondCallWhileOneWaits(t, cfg)
	if re.Res.StatusCode != 503 {
		t.Errorf("second call: %d, want 503", re.Res.StatusCode)
	}
	row := waitCDR(t, cfg.CDR.Dir, id, 30*time.Second)
	if row["sip_code"] != "503" || row["disposition"] != "rejected_busy" {
		t.Errorf("cdr %v, want sip_code 503, rejected_busy", row)
	}
}
