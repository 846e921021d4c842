package sip

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/sc115/sc115/sip/media"
)

// sdesCrypto is one a=crypto line (RFC 4568): tag, suite and the master
// key ‖ salt of the side that wrote it.
type sdesCrypto struct {
	tag   string
	suite string
	key   []byte
}

// parseCrypto reads "1 AES_CM_128_HMAC_SHA1_80 inline:<base64>[|lifetime][|MKI]".
// Suites sc115 does not speak, keys of the wrong length and MKIs are
// refused (error): the line is then ignored.
func parseCrypto(v string) (sdesCrypto, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return sdesCrypto{}, errors.New("a=crypto needs tag, suite and key")
	}
	if !slices.Contains(media.SRTPSuites, f[1]) {
		return sdesCrypto{}, errors.New("unsupported SRTP suite " + f[1])
	}
	params, ok := strings.CutPrefix(f[2], "inline:")
	if !ok {
		return sdesCrypto{}, errors.New("a=crypto key method is not inline")
	}
	keyB64, rest, _ := strings.Cut(params, "|")
	if strings.Contains(rest, ":") { // an MKI (n:len) — not supported
		return sdesCrypto{}, errors.New("a=crypto with MKI is not supported")
	}
	key, err := base64.StdEncoding.DecodeString(keyB64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(keyB64)
	}
	if err != nil || len(key) != media.SRTPKeyLen {
		return sdesCrypto{}, errors.New("a=crypto key is not 30 bytes of base64")
	}
	if len(f) > 3 { // session parameters (UNENCRYPTED_SRTP, KDR …) change the protection
		return sdesCrypto{}, errors.New("a=crypto session parameters are not supported")
	}
	return sdesCrypto{tag: f[0], suite: f[1], key: key}, nil
}

// line is the a=crypto value for c.
func (c sdesCrypto) line() string {
	return c.tag + " " + c.suite + " inline:" + base64.StdEncoding.EncodeToString(c.key)
}

// newSDES makes sc115's side of an SDES exchange: tag and suite as given,
// a fresh random master key ‖ salt.
func newSDES(tag, suite string) sdesCrypto {
	k := make([]byte, media.SRTPKeyLen)
	_, _ = rand.Read(k)
	return sdesCrypto{tag: tag, suite: suite, key: k}
}

// answerCrypto picks the first offered line sc115 speaks and answers it
// with a key of its own; ok is false when there is none.
func answerCrypto(offered []sdesCrypto) (ours, theirs sdesCrypto, ok bool) {
	if len(offered) == 0 {
		return sdesCrypto{}, sdesCrypto{}, false
	}
	return newSDES(offered[0].tag, offered[0].suite), offered[0], true
}

// keys are the media keying for a leg where sc115 sent ours and the peer theirs.
func keys(ours, theirs sdesCrypto) media.SRTP {
	return media.SRTP{Suite: ours.suite, Local: ours.key, Remote: theirs.key}
}
