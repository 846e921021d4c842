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
	"hash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// HA1 computes MD5(user:realm:password) as stored for digest auth.
func HA1(user, realm, password string) string {
	h := md5.Sum([]byte(user + ":" + realm + ":" + password))
	return hex.EncodeToString(h[:])
}

// HA1SHA256 computes SHA-256(user:realm:password) for RFC 8760 digest.
func HA1SHA256(user, realm, password string) string {
	h := sha256.Sum256([]byte(user + ":" + realm + ":" + password))
	return hex.EncodeToString(h[:])
}

// nonces issues and checks stateless digest nonces: issue time plus random
// bytes, signed with HMAC-SHA256, so any instance sharing the key can check
// them and an expired one is recognised (stale=true) without storage.
type nonces struct {
	key  []byte
	macs sync.Pool // of hash.Hash: HMAC-SHA256 under key
	ttl  time.Duration
	now  func() time.Time
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
	var mac [sha256.Size]byte
	copy(b[16:], n.mac(b[:16], mac[:0]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// mac appends the HMAC of data under the nonce key to out. The keyed
// hashes are reused: making one costs more than the hashing itself, for
// every challenge and every authenticated request.
func (n *nonces) mac(data, out []byte) []byte {
	m, _ := n.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, n.key)
	}
	m.Reset()
	m.Write(data)
	out = m.Sum(out)
	n.macs.Put(m)
	return out
}

var (
	errNonceInvalid = errors.New("nonce not issued here")
	errNonceStale   = errors.New("nonce expired")
)

func (n *nonces) check(s string) error {
	var b [32]byte
	if base64.RawURLEncoding.DecodedLen(len(s)) != len(b) {
		return errNonceInvalid
	}
	if k, err := base64.RawURLEncoding.Decode(b[:], []byte(s)); err != nil || k != len(b) {
		return errNonceInvalid
	}
	var mac [sha256.Size]byte
	if !hmac.Equal(n.mac(b[:16], mac[:0])[:16], b[16:]) {
		return errNonceInvalid
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	if n.now().Sub(issued) > n.ttl {
		return errNonceStale
	}
	return nil
}

// challengeHeaders builds one WWW-Authenticate value per algorithm, in the
// configured order (RFC 8760: order of preference).
func challengeHeaders(realm, nonce string, stale bool, algorithms []string) []string {
	var out []string
	for _, alg := range algorithms {
		c := digest.Challenge{Realm: realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		out = append(out, c.String())
	}
	return out
}

// verifyDigest checks an Authorization value against the stored HA1 of
// its algorithm (MD5 or SHA-256) for method. It compares in constant time
// and never logs or returns secrets.
func verifyDigest(cred *digest.Credentials, c Credential, method string) bool {
	h, ha1 := md5hex, c.HA1
	switch strings.ToUpper(cred.Algorithm) {
	case "", "MD5":
	case "SHA-256":
		h, ha1 = sha256hex, c.HA1SHA256
	default:
		return false
	}
	if ha1 == "" {
		return false
	}
	ha2 := h(method + ":" + cred.URI)
	var want string
	if cred.QOP == "auth" {
		want = h(ha1 + ":" + cred.Nonce + ":" + hex8(cred.Nc) + ":" + cred.Cnonce + ":auth:" + ha2)
	} else {
		want = h(ha1 + ":" + cred.Nonce + ":" + ha2)
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(cred.Response)) == 1
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
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

// nonceCounts remembers, per nonce, the highest nonce count (nc) a
// verified response used, so a captured response cannot be sent again
// (issue 12, 4). Only verified responses add entries, so only someone who
// knows a password can grow it; it is bounded anyway.
type nonceCounts struct {
	mu sync.Mutex
	m  map[string]nonceCount
}

type nonceCount struct {
	nc      int
	expires time.Time
}

const maxNonceCounts = 200000

func newNonceCounts() *nonceCounts { return &nonceCounts{m: map[string]nonceCount{}} }

// use takes nc for nonce: true if it is above every count used before.
func (n *nonceCounts) use(nonce string, nc int, now time.Time, ttl time.Duration) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e, ok := n.m[nonce]; ok && now.Before(e.expires) && nc <= e.nc {
		return false
	}
	if len(n.m) >= maxNonceCounts {
		n.sweepLocked(now)
		if len(n.m) >= maxNonceCounts {
			return false // refused as stale: the phone asks for a fresh nonce
		}
	}
	n.m[nonce] = nonceCount{nc: nc, expires: now.Add(ttl)}
	return true
}

func (n *nonceCounts) sweep(now time.Time) {
	n.mu.Lock()
	n.sweepLocked(now)
	n.mu.Unlock()
}

func (n *nonceCounts) sweepLocked(now time.Time) {
	for k, e := range n.m {
		if !now.Before(e.expires) {
			delete(n.m, k)
		}
	}
}

// digestProblem says why a response for user, computed by its sender
// with credentials c (known: the user exists here), is refused; "" if it
// verifies. Each check closes a hole: another user's response, another
// realm, an algorithm or qop not offered (a downgrade to MD5 or to RFC
// 2069 digest without nc), a response taken from a request to another URI.
func digestProblem(cred *digest.Credentials, c Credential, known bool, user, realm string, offered []string, method string, ruri sip.Uri) string {
	alg := strings.ToUpper(cred.Algorithm)
	if alg == "" {
		alg = "MD5"
	}
	switch {
	case !known || cred.Username != user:
		return "unknown user or another user's credentials"
	case cred.Realm != realm:
		return "wrong realm"
	case !slices.Contains(offered, alg):
		return "algorithm not offered"
	case cred.QOP != "auth":
		return "qop=auth missing"
	case !digestURIMatches(cred.URI, ruri):
		return "digest uri is not the Request-URI"
	case !verifyDigest(cred, c, method):
		return "wrong password"
	}
	return ""
}

// digestURIMatches compares the digest uri with the Request-URI as SIP
// URIs (RFC 3261 §19.1.4: scheme and host case-insensitive, a missing port
// the default).
func digestURIMatches(credURI string, ruri sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(credURI, &u); err != nil {
		return false
	}
	port := func(u sip.Uri) int {
		if u.Port != 0 {
			return u.Port
		}
		if strings.EqualFold(u.Scheme, "sips") {
			return 5061
		}
		return 5060
	}
	return strings.EqualFold(u.Scheme, ruri.Scheme) && u.User == ruri.User && strings.EqualFold(u.Host, ruri.Host) && port(u) == port(ruri)
}
