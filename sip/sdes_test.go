package sip

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sc115/sc115/sip/media"
)

// TestParseCrypto: the suites sc115 speaks with a 30-byte inline key are
// taken (a lifetime too); everything that would change or weaken the
// protection, or cannot be keyed, is refused.
func TestParseCrypto(t *testing.T) {
	key := bytes.Repeat([]byte{7}, media.SRTPKeyLen)
	b64 := base64.StdEncoding.EncodeToString(key)
	for _, c := range []struct {
		line string
		ok   bool
	}{
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64, true},
		{"2 AES_CM_128_HMAC_SHA1_32 inline:" + b64 + "|2^31", true},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64 + "|2^20|1:4", false}, // MKI
		{"1 F8_128_HMAC_SHA1_80 inline:" + b64, false},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64[:20], false},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64 + " UNENCRYPTED_SRTP", false},
		{"1 AES_CM_128_HMAC_SHA1_80 uri:http://x", false},
		{"1 AES_CM_128_HMAC_SHA1_80", false},
	} {
		got, err := parseCrypto(c.line)
		if (err == nil) != c.ok {
			t.Errorf("%q: err %v, want ok %v", c.line, err, c.ok)
		}
		if c.ok && !bytes.Equal(got.key, key) {
			t.Errorf("%q: key %x", c.line, got.key)
		}
	}
	ours := newSDES("1", media.SRTPSuites[0])
	back, err := parseCrypto(ours.line())
	if err != nil || !bytes.Equal(back.key, ours.key) || back.suite != ours.suite {
		t.Errorf("our own line %q does not parse back: %v", ours.line(), err)
	}
	if other := newSDES("1", media.SRTPSuites[0]); bytes.Equal(other.key, ours.key) {
		t.Error("two keys alike")
	}
}

// FuzzParseCrypto: no a=crypto value panics, and what is taken has a
// suite sc115 speaks and a 30-byte key.
func FuzzParseCrypto(f *testing.F) {
	f.Add("1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(make([]byte, 30)))
	f.Add("1 AES_CM_128_HMAC_SHA1_32 inline:AAAA|2^20|1:4")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := parseCrypto(v)
		if err != nil {
			return
		}
		if len(c.key) != media.SRTPKeyLen || !strings.HasPrefix(c.suite, "AES_CM_128_HMAC_SHA1_") {
			t.Fatalf("took %+v from %q", c, v)
		}
	})
}
