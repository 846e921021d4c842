package sip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestSipgoLogLeavesOutRawSIPAndRepeats: sipgo's "failed to parse" record
// carries the whole datagram (a caller's number among it): it is left
// out, and the same message again within a second is not written.
func TestSipgoLogLeavesOutRawSIPAndRepeats(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(SipgoLog(slog.NewTextHandler(&buf, nil)))
	for range 100 {
		log.Error("failed to parse", "data", "INVITE sip:115 SIP/2.0\r\nFrom: <sip:+495136123456@x>", "error", "bad")
	}
	log.Warn("another message")
	out := buf.String()
	if strings.Contains(out, "+495136123456") {
		t.Errorf("the raw message was logged: %s", out)
	}
	if n := strings.Count(out, "failed to parse"); n != 1 {
		t.Errorf("%d records of a repeated message, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "another message") || !strings.Contains(out, "error=bad") {
		t.Errorf("other records or attributes lost:\n%s", out)
	}
}
