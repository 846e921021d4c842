package media

import (
	"errors"
	"fmt"

	"github.com/pion/srtp/v3"
)

// SRTP keys a leg's SRTP (RFC 3711), as SDES (RFC 4568) negotiated it:
// each side sends with its own master key and salt.
type SRTP struct {
	Suite  string // AES_CM_128_HMAC_SHA1_80 or AES_CM_128_HMAC_SHA1_32
	Local  []byte // master key ‖ salt sc115 sends with (30 bytes)
	Remote []byte // master key ‖ salt the peer sends with (30 bytes)
}

// SRTPSuites are the SDES crypto suites sc115 speaks, preferred first.
var SRTPSuites = []string{"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"}

// SRTPKeyLen is the length of an SDES master key ‖ salt for these suites.
const SRTPKeyLen = 16 + 14

func srtpProfile(suite string) (srtp.ProtectionProfile, error) {
	switch suite {
	case "AES_CM_128_HMAC_SHA1_80":
		return srtp.ProtectionProfileAes128CmHmacSha1_80, nil
	case "AES_CM_128_HMAC_SHA1_32":
		return srtp.ProtectionProfileAes128CmHmacSha1_32, nil
	}
	return 0, fmt.Errorf("SRTP suite %q not supported", suite)
}

// srtpState is a leg's two SRTP contexts: in decrypts and authenticates
// what the peer sends (with replay protection), out encrypts what sc115
// sends. in is used only by the leg's poller goroutine, out under out.mu.
type srtpState struct {
	in, out *srtp.Context
	dec     [1500]byte // in's output, the poller's
}

// SetSRTP switches the leg to SRTP with k: from now on only packets that
// authenticate with the peer's key are taken, and everything sent is
// encrypted with sc115's. Prompts, hold audio, relayed and transcoded
// audio all go through the same write.
func (s *Session) SetSRTP(k SRTP) error {
	p, err := srtpProfile(k.Suite)
	if err != nil {
		return err
	}
	if len(k.Local) != SRTPKeyLen || len(k.Remote) != SRTPKeyLen {
		return errors.New("SRTP master key and salt must be 30 bytes")
	}
	in, err := srtp.CreateContext(k.Remote[:16], k.Remote[16:], p, srtp.SRTPReplayProtection(64))
	if err != nil {
		return err
	}
	out, err := srtp.CreateContext(k.Local[:16], k.Local[16:], p)
	if err != nil {
		return err
	}
	s.srtp.Store(&srtpState{in: in, out: out})
	return nil
}

// Encrypted reports whether the leg speaks SRTP.
func (s *Session) Encrypted() bool { return s.srtp.Load() != nil }
