package sip

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	"github.com/icholy/digest"
)

// HA1 computes MD5(user:realm:password) as stored for digest auth.
func HA1(user, realm, password string) string {
	h := md5.Sum([]byte(user + ":" + realm + ":" + password))
	return hex.EncodeToString(h[:])
}

// nonces issues and checks stateless digest nonces: issue time plus random
// bytes, signed with HMAC-SHA256, so any instance sharing the key can check
// them and an expired one is recognised (stale=true) without storage.
type nonces struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

func newNonces(key string, ttl time.Duration) *nonces {
	k := []byte(key)
	if len(k) == 0 {
		k = make([]byte, 32)
		_, _ = rand.Read(k)
	}
	return &nonces{key: k, ttl: ttl, now: time.Now}
}

func (n *nonces) issue() string {
	var b [16 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(n.now().Unix()))
	_, _ = rand.Read(b[8:16])
	m := hmac.New(sha256.New, n.key)
	m.Write(b[:16])
	copy(b[16:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

var (
	errNonceInvalid = errors.New("nonce not issued here")
	errNonceStale   = errors.New("nonce expired")
)

func (n *nonces) check(s string) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return errNonceInvalid
	}
	m := hmac.New(sha256.New, n.key)
	m.Write(b[:16])
	if !hmac.Equal(m.Sum(nil)[:16], b[16:]) {
		return errNonceInvalid
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	if n.now().Sub(issued) > n.ttl {
		return errNonceStale
	}
	return nil
}

// challenge builds a WWW-Authenticate value.
func challengeHeader(realm, nonce string, stale bool) string {
	c := digest.Challenge{Realm: realm, Nonce: nonce, Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	return c.String()
}

// verifyDigest checks an Authorization value against the stored HA1 for
// method. It compares in constant time and never logs or returns secrets.
func verifyDigest(cred *digest.Credentials, ha1, method string) bool {
	if cred.Algorithm != "" && cred.Algorithm != "MD5" {
		return false
	}
	ha2 := md5hex(method + ":" + cred.URI)
	var want string
	if cred.QOP == "auth" {
		nc := hex8(cred.Nc)
		want = md5hex(ha1 + ":" + cred.Nonce + ":" + nc + ":" + cred.Cnonce + ":auth:" + ha2)
	} else {
		want = md5hex(ha1 + ":" + cred.Nonce + ":" + ha2)
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(cred.Response)) == 1
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func hex8(n int) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[n&0xf]
		n >>= 4
	}
	return string(b[:])
}
