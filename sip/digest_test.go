package sip

import (
	"strings"
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
		if got := verifyDigest(cred, Credential{HA1: ha1}, "REGISTER"); got != tc.ok {
			t.Errorf("password %q: verified %v, want %v", tc.password, got, tc.ok)
		}
		// The same response for another method must not verify.
		if tc.ok && verifyDigest(cred, Credential{HA1: ha1}, "INVITE") {
			t.Error("response for REGISTER verified as INVITE")
		}
	}
	// md5sum of "1003:sc115:demo1003", computed outside Go.
	if ha1 != "368de01f68be301eba3df953a74c2681" {
		t.Errorf("HA1 = %q", ha1)
	}
}

// TestVerifyDigestSHA256 (RFC 8760): a response computed with SHA-256 by
// an independent implementation verifies against the SHA-256 HA1 only.
func TestVerifyDigestSHA256(t *testing.T) {
	c := Credential{HA1: HA1("1003", "sc115", "demo1003"), HA1SHA256: HA1SHA256("1003", "sc115", "demo1003")}
	chal := &digest.Challenge{Realm: "sc115", Nonce: "n0nce", QOP: []string{"auth"}, Algorithm: "SHA-256"}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: "1003", Password: "demo1003", Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !verifyDigest(cred, c, "REGISTER") {
		t.Error("SHA-256 response not verified")
	}
	if verifyDigest(cred, Credential{HA1: c.HA1}, "REGISTER") {
		t.Error("SHA-256 response verified without a SHA-256 HA1")
	}
	cred.Algorithm = "SHA-512-256"
	if verifyDigest(cred, c, "REGISTER") {
		t.Error("unknown algorithm verified")
	}
	// The challenges come in the configured order.
	hs := challengeHeaders("sc115", "n", false, []string{"SHA-256", "MD5"})
	if len(hs) != 2 || !strings.Contains(hs[0], "algorithm=SHA-256") || !strings.Contains(hs[1], "algorithm=MD5") || !strings.Contains(hs[0], `qop="auth"`) {
		t.Errorf("challenges %q", hs)
	}
}

func TestLockout(t *testing.T) {
	l := newLockout(3, time.Minute, 5*time.Minute)
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	for i := 0; i < 2; i++ {
		if l.fail("192.0.2.7", "1001") {
			t.Fatal("locked too early")
		}
	}
	if l.isLocked("192.0.2.7", "1001") {
		t.Fatal("locked after 2 failures")
	}
	if !l.fail("192.0.2.7", "1001") || !l.isLocked("192.0.2.7", "1002") || !l.isLocked("198.51.100.1", "1001") {
		t.Fatal("3rd failure must lock the source (any user) and the user (any source)")
	}
	if l.isLocked("198.51.100.1", "1002") {
		t.Error("an unrelated source and user are locked")
	}
	now = now.Add(5*time.Minute + time.Second)
	if l.isLocked("192.0.2.7", "1001") {
		t.Error("still locked after the lockout time")
	}
	// Failures spread beyond the window do not add up.
	for i := 0; i < 5; i++ {
		now = now.Add(61 * time.Second)
		if l.fail("203.0.113.9", "1004") {
			t.Fatal("locked by failures outside the window")
		}
	}
	l.sweep()
}
