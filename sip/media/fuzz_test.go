package media

import (
	"net/netip"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// FuzzHandlePacket: any datagram arriving on a bridged leg — RTP with odd
// headers (CSRCs, extensions, padding), RTCP, garbage — is relayed or
// dropped, never a panic.
func FuzzHandlePacket(f *testing.F) {
	good, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: 1, Timestamp: 160, SSRC: 7}, Payload: make([]byte, 160)}).Marshal()
	ext, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, Extension: true, ExtensionProfile: 0xBEDE, CSRC: []uint32{1, 2}}, Payload: []byte{5, 0x80, 0, 160}}).Marshal()
	f.Add(good)
	f.Add(ext)
	f.Add([]byte{0x80, 200, 0, 1, 0, 0, 0, 1})
	f.Add([]byte{0xA0, 8, 0, 1}) // padding bit, truncated
	e := testEngine(f)
	a, _ := e.NewSession()
	b, _ := e.NewSession()
	defer a.Close()
	defer b.Close()
	sink := newPeer(f)
	from := netip.MustParseAddrPort("127.0.0.1:9") // the caller the signalling named
	a.SetParams(Params{Remote: from, Codec: PCMA, PT: 8, DTMFPT: 101})
	b.SetParams(Params{Remote: sink.addr(), Codec: PCMU, PT: 0, DTMFPT: 96})
	Bridge(a, b)
	var h rtp.Header
	scratch := make([]byte, 1500)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) > 1500 {
			return
		}
		a.handle(pkt, from, &h, scratch)
	})
}

// FuzzHandleSRTPPacket: on an SRTP leg no datagram — garbage, plain RTP,
// an SRTP packet with bits flipped — panics, and only one that
// authenticates with the peer's key is taken as media.
func FuzzHandleSRTPPacket(f *testing.F) {
	remote := make([]byte, SRTPKeyLen)
	for i := range remote {
		remote[i] = byte(i)
	}
	peerOut, err := srtp.CreateContext(remote[:16], remote[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		f.Fatal(err)
	}
	plain, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: 1, Timestamp: 160, SSRC: 7}, Payload: make([]byte, 160)}).Marshal()
	enc, err := peerOut.EncryptRTP(nil, plain, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add(plain)
	f.Add([]byte{0x80, 8, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7})
	e := testEngine(f)
	a, _ := e.NewSession()
	defer a.Close()
	from := netip.MustParseAddrPort("127.0.0.1:9")
	a.SetParams(Params{Remote: from, Codec: PCMA, PT: 8})
	if err := a.SetSRTP(SRTP{Suite: SRTPSuites[0], Local: make([]byte, SRTPKeyLen), Remote: remote}); err != nil {
		f.Fatal(err)
	}
	var h rtp.Header
	scratch := make([]byte, 1500)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) > 1500 {
			return
		}
		before := a.Received()
		a.handle(pkt, from, &h, scratch)
		if a.Received() > before && len(pkt) < 12+10 {
			t.Fatalf("took a %d-byte packet as SRTP media (no room for header and tag)", len(pkt))
		}
	})
}
