package sip

import (
	"testing"
	"time"

	"github.com/icholy/digest"
)

func TestNonceLifecycle(t *testing.T) {
	n := newNonces("k", time.Minute)
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	n.now = func() time.Time { return now }
	v := n.issue()
	if err := n.check(v); err != nil {
		t.Fatalf("fresh nonce: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if err := n.check(v); err != errNonceStale {
		t.Errorf("old nonce: %v, want stale", err)
	}
	if err := newNonces("other key", time.Minute).check(v); err != errNonceInvalid {
		t.Errorf("nonce from another key: %v, want invalid", err)
	}
	tampered := []byte(v)
	tampered[3] ^= 1
	if err := n.check(string(tampered)); err != errNonceInvalid {
		t.Errorf("tampered nonce: %v, want invalid", err)
	}
}

// TestVerifyDigest computes a client response with icholy/digest (an
// independent implementation) and checks it against the stored HA1.
func TestVerifyDigest(t *testing.T) {
	ha1 := HA1("1003", "sc115", "demo1003")
	chal := &digest.Challenge{Realm: "sc115", Nonce: "abc", QOP: []string{"auth"}, Algorithm: "MD5"}
	for _, tc := range []struct {
		password string
		ok       bool
	}{{"demo1003", true}, {"demo1004", false}} {
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: "1003", Password: tc.password, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got := verifyDigest(cred, ha1, "REGISTER"); got != tc.ok {
			t.Errorf("password %q: verified %v, want %v", tc.password, got, tc.ok)
		}
		// The same response for another method must not verify.
		if tc.ok && verifyDigest(cred, ha1, "INVITE") {
			t.Error("response for REGISTER verified as INVITE")
		}
	}
	// md5sum of "1003:sc115:demo1003", computed outside Go.
	if ha1 != "368de01f68be301eba3df953a74c2681" {
		t.Errorf("HA1 = %q", ha1)
	}
}
