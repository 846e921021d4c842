package sip

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
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

// TestLockoutLocksTheGuesserNotTheUser (issue 12, 5): wrong passwords
// lock the source for that user; the real phone elsewhere keeps working.
// A source guessing many users is locked for all of them except those it
// logged in before. Slow guessing from many sources raises the daily lock,
// which only known sources pass, and which a login from one of them ends.
func TestLockoutLocksTheGuesserNotTheUser(t *testing.T) {
	l := newLockout(3, 6, 10, time.Minute, 5*time.Minute)
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	const phone, attacker = "192.0.2.10", "192.0.2.66"
	l.success(phone, "1003") // the real phone logged in before

	for i := 0; i < 2; i++ {
		if started := l.fail(attacker, "1003", true); started != nil {
			t.Fatalf("failure %d started %v", i+1, started)
		}
	}
	if started := l.fail(attacker, "1003", true); len(started) != 1 || started[0] != scopeSourceUser {
		t.Fatalf("3rd failure started %v, want source_user", started)
	}
	if !l.isLocked(attacker, "1003") {
		t.Error("the guessing source is not locked for the user")
	}
	if l.isLocked(phone, "1003") || l.isLocked("198.51.100.1", "1003") {
		t.Error("the user is locked for other sources")
	}
	if l.isLocked(attacker, "1004") {
		t.Error("the source is locked for another user after 3 failures")
	}

	// The same source tries other users: locked for all, but not for a
	// user it logged in itself (a shared NAT with a real phone).
	l.success(attacker, "1009")
	for _, u := range []string{"1004", "1005", "1006"} {
		l.fail(attacker, u, true)
	}
	if !l.isLocked(attacker, "1007") {
		t.Error("6 failures for several users do not lock the source")
	}
	if l.isLocked(attacker, "1009") {
		t.Error("a user the source logged in before is locked out with it")
	}

	now = now.Add(5*time.Minute + time.Second)
	if l.isLocked(attacker, "1003") || l.isLocked(attacker, "1007") {
		t.Error("still locked after the lockout time")
	}

	// Slow guessing of 1003 from ever new sources: 10 failures in a day.
	// (3 of them are above; 7 more, each from its own source, an hour apart.)
	for i := 0; i < 7; i++ {
		now = now.Add(time.Hour)
		started := l.fail("203.0.113."+string(rune('1'+i)), "1003", true)
		if i < 6 && started != nil {
			t.Fatalf("slow failure %d started %v", i+1, started)
		}
		if i == 6 && (len(started) != 1 || started[0] != scopeUserDaily) {
			t.Fatalf("10th failure of the day started %v, want user_daily", started)
		}
	}
	if !l.isLocked("203.0.113.99", "1003") {
		t.Error("an unknown source passes the daily lock")
	}
	if l.isLocked(phone, "1003") {
		t.Error("the daily lock refuses the phone that logged the user in before")
	}
	if got := l.dailyLocked(); len(got) != 1 || got[0] != "1003" {
		t.Errorf("daily locked %v", got)
	}
	l.success(phone, "1003")
	if l.isLocked("203.0.113.99", "1003") {
		t.Error("the daily lock outlives a login from a known source")
	}
	// Unknown users are counted per source only.
	for i := 0; i < 20; i++ {
		l.fail("203.0.113."+string(rune('a'+i)), "nosuchuser", false)
	}
	if len(l.daily) != 0 {
		t.Error("an unknown user got a daily lock entry")
	}
	now = now.Add(25 * time.Hour)
	l.sweep()
	if len(l.fails) != 0 || len(l.until) != 0 {
		t.Errorf("sweep left %d failure and %d lock entries", len(l.fails), len(l.until))
	}
}

// TestNonceCountsRefuseReuse (issue 12, 4): a nonce count can be used
// once; a higher one later, a lower or equal one never; expired entries go.
func TestNonceCountsRefuseReuse(t *testing.T) {
	n := newNonceCounts()
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if !n.use("a", 1, now, time.Minute) {
		t.Fatal("first use refused")
	}
	if n.use("a", 1, now, time.Minute) {
		t.Error("the same nonce count was accepted twice (a replay)")
	}
	if !n.use("a", 2, now, time.Minute) || n.use("a", 1, now, time.Minute) {
		t.Error("counts must rise")
	}
	if !n.use("b", 1, now, time.Minute) {
		t.Error("another nonce is independent")
	}
	n.sweep(now.Add(2 * time.Minute))
	if len(n.m) != 0 {
		t.Errorf("%d entries after their nonces expired", len(n.m))
	}
}

// TestDigestProblems: each hole has its own refusal, and a right response
// passes.
func TestDigestProblems(t *testing.T) {
	c := Credential{HA1: HA1("1003", "sc115", "demo1003"), HA1SHA256: HA1SHA256("1003", "sc115", "demo1003")}
	ruri := sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5060}
	mk := func(alg string, qop []string, uri string) *digest.Credentials {
		chal := &digest.Challenge{Realm: "sc115", Nonce: "n", QOP: qop, Algorithm: alg}
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: uri, Username: "1003", Password: "demo1003", Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	md5Only := []string{"MD5"}
	for _, tc := range []struct {
		name    string
		cred    *digest.Credentials
		offered []string
		want    string
	}{
		{"right", mk("MD5", []string{"auth"}, "sip:127.0.0.1"), md5Only, ""},
		{"right, explicit default port", mk("MD5", []string{"auth"}, "sip:127.0.0.1:5060"), md5Only, ""},
		{"MD5 when only SHA-256 is offered", mk("MD5", []string{"auth"}, "sip:127.0.0.1"), []string{"SHA-256"}, "algorithm not offered"},
		{"no qop (RFC 2069)", mk("MD5", nil, "sip:127.0.0.1"), md5Only, "qop=auth missing"},
		{"another request's URI", mk("MD5", []string{"auth"}, "sip:10.0.0.1"), md5Only, "digest uri is not the Request-URI"},
	} {
		if got := digestProblem(tc.cred, c, true, "1003", "sc115", tc.offered, "REGISTER", ruri); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := digestProblem(mk("MD5", []string{"auth"}, "sip:127.0.0.1"), c, true, "1004", "sc115", md5Only, "REGISTER", ruri); got == "" {
		t.Error("1003's response accepted for 1004")
	}
}
