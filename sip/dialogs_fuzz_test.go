package sip

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

const seedBye = "BYE sip:sc115@127.0.0.1:5060 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-2\r\n" +
	"From: <sip:+495136123456@127.0.0.1>;tag=caller\r\nTo: <sip:05136115@127.0.0.1>;tag=sc115\r\nCall-ID: call-1@127.0.0.1\r\nCSeq: 3 BYE\r\n" +
	"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"

// FuzzInDialogRequest: any in-dialog request (BYE, re-INVITE, ACK …) from
// anywhere is either admitted to the dialog — only with its Call-ID, both
// tags, the peer's or a trunk's address and a rising CSeq — or refused
// with 481, 403 or 500; nothing panics. The dialog is the caller leg of
// call-1 (peer 127.0.0.1, INVITE CSeq 1).
func FuzzInDialogRequest(f *testing.F) {
	f.Add([]byte(seedBye), "127.0.0.1", false)
	f.Add([]byte(strings.Replace(seedBye, "BYE", "INVITE", 2)), "127.0.0.2", false)
	f.Add([]byte(strings.Replace(seedBye, ";tag=sc115", "", 1)), "127.0.0.1", true)
	f.Add([]byte(strings.Replace(seedBye, "CSeq: 3 BYE", "CSeq: 1 ACK", 1)), "127.0.0.1", false)
	f.Fuzz(func(t *testing.T, b []byte, src string, trunk bool) {
		msg, err := sip.ParseMessage(b)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok || req.CSeq() == nil {
			return
		}
		from, err := netip.ParseAddr(src)
		if err != nil {
			from = netip.MustParseAddr("127.0.0.1")
		}
		var g dialogGuard
		g.set(sip.DialogIDMake("call-1@127.0.0.1", "sc115", "caller"), netip.MustParseAddr("127.0.0.1"), 1)
		id, idErr := sip.DialogIDFromRequestUAS(req)
		refusal := g.admit(req, id, from, trunk)
		admitted := refusal == nil
		rightDialog := idErr == nil && id == g.id
		if admitted && (!rightDialog || (from != g.peer && !trunk)) {
			t.Fatalf("admitted %q from %s (trunk %v)", id, from, trunk)
		}
		if admitted && req.Method != sip.ACK && req.CSeq().SeqNo <= 1 {
			t.Fatalf("admitted CSeq %d, not above the INVITE's", req.CSeq().SeqNo)
		}
		if refusal != nil && refusal.code != 481 && refusal.code != 403 && refusal.code != 500 {
			t.Fatalf("refused with %d", refusal.code)
		}
	})
}
