package testphone

import (
	"crypto/rand"
	"encoding/base64"
	"regexp"
	"strings"

	"github.com/pion/srtp/v3"
)

// SRTPSuite is the SDES suite the test phone offers and answers with.
const SRTPSuite = "AES_CM_128_HMAC_SHA1_80"

// NewSDESKey is a fresh master key ‖ salt (30 bytes).
func NewSDESKey() []byte {
	k := make([]byte, 30)
	_, _ = rand.Read(k)
	return k
}

// WithCrypto turns an SDP body from SDP into RTP/SAVP with an a=crypto
// line (tag 1, SRTPSuite) for key.
func WithCrypto(sdp []byte, key []byte) []byte {
	s := strings.Replace(string(sdp), " RTP/AVP ", " RTP/SAVP ", 1)
	return []byte(s + "a=crypto:1 " + SRTPSuite + " inline:" + base64.StdEncoding.EncodeToString(key) + "\r\n")
}

var reCrypto = regexp.MustCompile(`(?m)^a=crypto:(\S+) (\S+) inline:([A-Za-z0-9+/=]+)`)

// ParseCrypto returns the first a=crypto line's suite and key of an SDP
// body (ok false if there is none).
func ParseCrypto(b []byte) (suite string, key []byte, ok bool) {
	m := reCrypto.FindSubmatch(b)
	if m == nil {
		return "", nil, false
	}
	key, err := base64.StdEncoding.DecodeString(string(m[3]))
	if err != nil || len(key) != 30 {
		return "", nil, false
	}
	return string(m[2]), key, true
}

// SetSRTP makes the endpoint send with local and take only what
// authenticates with remote (both master key ‖ salt of SRTPSuite).
func (r *RTP) SetSRTP(local, remote []byte) error {
	out, err := srtp.CreateContext(local[:16], local[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		return err
	}
	in, err := srtp.CreateContext(remote[:16], remote[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.srtpOut, r.srtpIn = out, in
	r.mu.Unlock()
	return nil
}

// Undecryptable is how many packets failed SRTP authentication.
func (r *RTP) Undecryptable() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}
