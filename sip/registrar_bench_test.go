package sip

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// BenchmarkRegisterWithAuth: the registrar's work for one authenticated
// REGISTER refresh (parse of a real message, nonce check, digest
// verification, binding update, 200 OK with the Contact list), in process.
// It excludes the network and the 401 round trip before it.
func BenchmarkRegisterWithAuth(b *testing.B) {
	r := fuzzRegistrar()
	nonce := r.nonces.issue()
	chal := &digest.Challenge{Realm: "sc115", Nonce: nonce, QOP: []string{"auth"}, Algorithm: "MD5"}
	// Each refresh counts its nonce on (nc 1, 2, …): a repeated count is a
	// replay and is challenged, so the messages are made before the clock runs.
	raws := make([][]byte, b.N)
	for i := range raws {
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1:5060", Username: "1003", Password: "demo1003", Count: i + 1})
		if err != nil {
			b.Fatal(err)
		}
		raws[i] = []byte(strings.Replace(seedRegister, seedAuthorization(), "Authorization: "+cred.String()+"\r\n", 1))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msg, err := sip.ParseMessage(raws[i])
		if err != nil {
			b.Fatal(err)
		}
		req := msg.(*sip.Request)
		req.SetSource("127.0.0.1:5070")
		req.SetTransport("UDP") // as the UDP transport sets it
		tx := newRecordTx()
		r.handle(req, tx)
		if tx.res.StatusCode != 200 {
			b.Fatalf("got %d", tx.res.StatusCode)
		}
	}
}

func seedAuthorization() string {
	i := strings.Index(seedRegister, "Authorization:")
	j := strings.Index(seedRegister[i:], "\r\n")
	return seedRegister[i : i+j+2]
}
