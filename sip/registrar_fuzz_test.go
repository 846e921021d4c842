package sip

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/rs/zerolog"
)

// recordTx is a server transaction that records the response.
type recordTx struct {
	res  *sip.Response
	done chan struct{}
}

func newRecordTx() *recordTx                           { return &recordTx{done: make(chan struct{})} }
func (t *recordTx) Respond(r *sip.Response) error      { t.res = r; return nil }
func (t *recordTx) Acks() <-chan *sip.Request          { return nil }
func (t *recordTx) OnCancel(sip.FnTxCancel) bool       { return true }
func (t *recordTx) Terminate()                         {}
func (t *recordTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (t *recordTx) Done() <-chan struct{}              { return t.done }
func (t *recordTx) Err() error                         { return nil }

// A REGISTER as a Yealink/Linphone-style phone sends it, with digest.
const seedRegister = "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n" +
	"From: <sip:1003@127.0.0.1>;tag=abc\r\nTo: <sip:1003@127.0.0.1>\r\nCall-ID: reg-1@127.0.0.1\r\nCSeq: 2 REGISTER\r\n" +
	"Contact: <sip:1003@127.0.0.1:5070;transport=udp>;expires=3600, <sip:1003@192.0.2.1:5062>\r\n" +
	"Authorization: Digest username=\"1003\", realm=\"sc115\", nonce=\"AAAA\", uri=\"sip:127.0.0.1:5060\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5, cnonce=\"x\", qop=auth, nc=00000001\r\n" +
	"Expires: 3600\r\nMax-Forwards: 70\r\nUser-Agent: Linphone/5.2\r\nContent-Length: 0\r\n\r\n"

func fuzzRegistrar() *registrar {
	cfg := Defaults()
	creds := map[string]Credential{"1003": {AgentID: "1003", HA1: HA1("1003", "sc115", "demo1003"), HA1SHA256: HA1SHA256("1003", "sc115", "demo1003")}}
	return newRegistrar(cfg, creds, nil, zerolog.Nop())
}

// FuzzRegister: any message handed to the REGISTER handler gets a final
// response in the 2xx–4xx range, and nothing panics.
func FuzzRegister(f *testing.F) {
	f.Add([]byte(seedRegister))
	f.Add([]byte(strings.Replace(seedRegister, "Contact: <sip:1003@127.0.0.1:5070;transport=udp>;expires=3600, <sip:1003@192.0.2.1:5062>", "Contact: *", 1)))
	f.Add([]byte(strings.Replace(seedRegister, "Expires: 3600", "Expires: 1", 1)))
	r := fuzzRegistrar()
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := sip.ParseMessage(b)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok || req.Method != sip.REGISTER {
			return
		}
		req.SetSource("127.0.0.1:5070")
		tx := newRecordTx()
		r.handle(req, tx)
		if tx.res == nil || tx.res.StatusCode < 200 || tx.res.StatusCode >= 500 {
			t.Fatalf("response %v to\n%s", tx.res, b)
		}
	})
}

// FuzzDigestCredentials: parsing and checking any Authorization value
// never panics and never verifies without the password.
func FuzzDigestCredentials(f *testing.F) {
	f.Add(`Digest username="1003", realm="sc115", nonce="AAAA", uri="sip:127.0.0.1", response="0123", algorithm=SHA-256, cnonce="x", qop=auth, nc=00000001`)
	f.Add(`Digest username="1003",,,nc=zz`)
	c := Credential{HA1: HA1("1003", "sc115", "demo1003"), HA1SHA256: HA1SHA256("1003", "sc115", "demo1003")}
	f.Fuzz(func(t *testing.T, v string) {
		cred, err := digest.ParseCredentials(v)
		if err != nil {
			return
		}
		if verifyDigest(cred, c, "REGISTER") {
			t.Fatalf("verified a response nobody computed: %q", v)
		}
	})
}

func TestRegisterSeedCorpusAnswers(t *testing.T) {
	r := fuzzRegistrar()
	r.now = func() time.Time { return time.Now() }
	msg, err := sip.ParseMessage([]byte(seedRegister))
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*sip.Request)
	req.SetSource("127.0.0.1:5070")
	tx := newRecordTx()
	r.handle(req, tx)
	if tx.res == nil || tx.res.StatusCode != 401 { // the seed's nonce is not ours: a fresh challenge
		t.Fatalf("seed REGISTER: %v, want 401 with a fresh nonce", tx.res)
	}
}
