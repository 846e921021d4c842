package sip

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// terminatedTx records whether the registrar ended the transaction.
type terminatedTx struct {
	*recordTx
	terminated bool
}

func (t *terminatedTx) Terminate() { t.terminated = true }

// TestRegisterOverUDPIsAnsweredStatelessly: over UDP the registrar answers
// a REGISTER without keeping its transaction (no 32 s timer J for every
// REGISTER); over TCP through the transaction as before. A retransmitted
// authenticated REGISTER is challenged anew (stale: its nonce count was
// used), so a phone whose 200 was lost registers with its next count.
func TestRegisterOverUDPIsAnsweredStatelessly(t *testing.T) {
	r := fuzzRegistrar()
	var sent []*sip.Response
	r.stateless = func(res *sip.Response) error { sent = append(sent, res); return nil }
	parse := func(raw, transport string) *sip.Request {
		t.Helper()
		raw = strings.Replace(raw, "SIP/2.0/UDP", "SIP/2.0/"+transport, 1)
		msg, err := sip.ParseMessage([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		req := msg.(*sip.Request)
		req.SetSource("127.0.0.1:5070")
		req.SetTransport(transport)
		return req
	}
	unauthenticated := strings.Replace(seedRegister, seedAuthorization(), "", 1)

	tx := &terminatedTx{recordTx: newRecordTx()}
	r.handle(parse(unauthenticated, "UDP"), tx)
	if len(sent) != 1 || sent[0].StatusCode != 401 || tx.res != nil || !tx.terminated {
		t.Fatalf("UDP: %d sent without a transaction (first %v), through it %v, terminated %v; want the 401 stateless and the transaction ended",
			len(sent), first(sent), tx.res, tx.terminated)
	}
	tcp := &terminatedTx{recordTx: newRecordTx()}
	r.handle(parse(unauthenticated, "TCP"), tcp)
	if len(sent) != 1 || tcp.res == nil || tcp.res.StatusCode != 401 {
		t.Fatalf("TCP: response %v through the transaction, %d stateless; want the 401 through the transaction", tcp.res, len(sent)-1)
	}

	chal := &digest.Challenge{Realm: "sc115", Nonce: r.nonces.issue(), QOP: []string{"auth"}, Algorithm: "MD5"}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1:5060", Username: "1003", Password: "demo1003", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	authed := strings.Replace(seedRegister, seedAuthorization(), "Authorization: "+cred.String()+"\r\n", 1)
	sent = nil
	r.handle(parse(authed, "UDP"), &terminatedTx{recordTx: newRecordTx()})
	r.handle(parse(authed, "UDP"), &terminatedTx{recordTx: newRecordTx()}) // its retransmission
	if len(sent) != 2 || sent[0].StatusCode != 200 || sent[1].StatusCode != 401 ||
		!strings.Contains(sent[1].GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Fatalf("authenticated REGISTER and its retransmission: %v, %v; want 200, then 401 stale=true", first(sent), sent[1:])
	}
	if bs := r.Bindings("1003"); len(bs) != 2 {
		t.Errorf("%d bindings after the REGISTER, want its 2 Contacts", len(bs))
	}
}

func first(rs []*sip.Response) *sip.Response {
	if len(rs) == 0 {
		return nil
	}
	return rs[0]
}
