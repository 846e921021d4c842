package media

import (
	"net/netip"
	"testing"

	"github.com/pion/rtp"
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
