package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"

	"github.com/sc115/sc115/sip/media"
)

// ErrNoCommonCodec means the offer has no audio format sc115 speaks (→ 488).
var ErrNoCommonCodec = errors.New("no common audio codec (want PCMA or PCMU)")

// audioOffer is what sc115 takes from a peer's SDP: where to send audio and
// which of its payload types carry G.711 and telephone-events.
type audioOffer struct {
	remote  netip.AddrPort
	formats []media.Codec // in the peer's preference order
	pts     map[media.Codec]uint8
	dtmfPT  uint8
	// dir is the offerer's direction: sendrecv, sendonly, recvonly, inactive.
	dir string
	// savp: the m-line is RTP/SAVP; crypto its usable a=crypto lines.
	savp   bool
	crypto []sdesCrypto
}

// held reports whether the offer puts sc115's side on hold: the peer only
// sends or does nothing (RFC 3264), or the old style c=0.0.0.0 (RFC 2543).
func (o *audioOffer) held() bool {
	return o.dir == "sendonly" || o.dir == "inactive" || o.remote.Addr().IsUnspecified()
}

// answerDir is the direction that answers dir.
func answerDir(dir string) string {
	switch dir {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}

// parseAudio reads the first audio m-line of an SDP body. Payload type
// numbers come from the m-line and its rtpmap lines, so the offerer's
// dynamic numbers are kept.
func parseAudio(body []byte) (*audioOffer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("unparseable SDP: %w", err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		ci := md.ConnectionInformation
		if ci == nil {
			ci = sd.ConnectionInformation
		}
		if ci == nil || ci.Address == nil {
			return nil, errors.New("SDP audio has no connection address")
		}
		ip, err := netip.ParseAddr(ci.Address.Address)
		if err != nil {
			return nil, fmt.Errorf("SDP connection address %q: %w", ci.Address.Address, err)
		}
		o := &audioOffer{remote: netip.AddrPortFrom(ip, uint16(md.MediaName.Port.Value)), pts: map[media.Codec]uint8{}, dir: "sendrecv",
			savp: slices.Contains(md.MediaName.Protos, "SAVP")}
		for _, a := range md.Attributes {
			if a.Key == "crypto" {
				if c, err := parseCrypto(a.Value); err == nil {
					o.crypto = append(o.crypto, c)
				}
			}
		}
		for _, a := range append(append([]sdp.Attribute(nil), sd.Attributes...), md.Attributes...) { // media level wins
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				o.dir = a.Key
			}
		}
		names := map[string]string{}
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, ok := strings.Cut(a.Value, " ")
			if ok {
				names[pt] = strings.ToUpper(enc)
			}
		}
		for _, f := range md.MediaName.Formats {
			pt, err := strconv.Atoi(f)
			if err != nil || pt < 0 || pt > 127 {
				continue
			}
			enc := names[f]
			switch {
			case enc == "PCMU/8000" || (enc == "" && pt == 0):
				o.add(media.PCMU, uint8(pt))
			case enc == "PCMA/8000" || (enc == "" && pt == 8):
				o.add(media.PCMA, uint8(pt))
			case strings.HasPrefix(enc, "TELEPHONE-EVENT/8000"):
				o.dtmfPT = uint8(pt)
			}
		}
		if len(o.formats) == 0 {
			return nil, ErrNoCommonCodec
		}
		return o, nil
	}
	return nil, errors.New("SDP has no audio m-line")
}

func (o *audioOffer) add(c media.Codec, pt uint8) {
	if _, dup := o.pts[c]; dup {
		return
	}
	o.pts[c] = pt
	o.formats = append(o.formats, c)
}

// params turns the chosen codec into media parameters for a session.
func (o *audioOffer) params(c media.Codec) media.Params {
	return media.Params{Remote: o.remote, Codec: c, PT: o.pts[c], DTMFPT: o.dtmfPT}
}

var sdpVersion atomic.Uint64

func init() { sdpVersion.Store(uint64(time.Now().Unix())) }

// buildSDP writes an SDP body for local offering the given codecs with the
// given payload types (plus telephone-event when dtmfPT != 0).
func buildSDP(local netip.AddrPort, codecs []media.Codec, pts map[media.Codec]uint8, dtmfPT uint8, dir string, crypto *sdesCrypto) []byte {
	ip := local.Addr().String()
	addrType := "IP4"
	if local.Addr().Is6() {
		addrType = "IP6"
	}
	id := sdpVersion.Add(1)
	md := &sdp.MediaDescription{
		MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: int(local.Port())}, Protos: []string{"RTP", "AVP"}},
	}
	if crypto != nil {
		md.MediaName.Protos = []string{"RTP", "SAVP"}
	}
	for _, c := range codecs {
		pt := strconv.Itoa(int(pts[c]))
		md.MediaName.Formats = append(md.MediaName.Formats, pt)
		md.Attributes = append(md.Attributes, sdp.Attribute{Key: "rtpmap", Value: pt + " " + c.String() + "/8000"})
	}
	if dtmfPT != 0 {
		pt := strconv.Itoa(int(dtmfPT))
		md.MediaName.Formats = append(md.MediaName.Formats, pt)
		md.Attributes = append(md.Attributes,
			sdp.Attribute{Key: "rtpmap", Value: pt + " telephone-event/8000"},
			sdp.Attribute{Key: "fmtp", Value: pt + " 0-16"})
	}
	md.Attributes = append(md.Attributes, sdp.Attribute{Key: "ptime", Value: "20"}, sdp.Attribute{Key: dir})
	if crypto != nil {
		md.Attributes = append(md.Attributes, sdp.Attribute{Key: "crypto", Value: crypto.line()})
	}
	sd := sdp.SessionDescription{
		Origin:                sdp.Origin{Username: "sc115", SessionID: id, SessionVersion: id, NetworkType: "IN", AddressType: addrType, UnicastAddress: ip},
		SessionName:           "sc115",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
		MediaDescriptions:     []*sdp.MediaDescription{md},
	}
	b, _ := sd.Marshal()
	return b
}

// answerSDP answers an offer with its first G.711 law, keeping the
// offerer's payload type numbers; crypto (if set) is sc115's SDES line.
func answerSDP(local netip.AddrPort, o *audioOffer, crypto *sdesCrypto) (media.Params, []byte) {
	c := o.formats[0]
	return o.params(c), buildSDP(local, []media.Codec{c}, o.pts, o.dtmfPT, answerDir(o.dir), crypto)
}

// offerSDP is sc115's own offer toward agents and federation targets;
// with crypto an RTP/SAVP offer with that SDES line.
func offerSDP(local netip.AddrPort, crypto *sdesCrypto) []byte {
	return buildSDP(local, []media.Codec{media.PCMA, media.PCMU}, map[media.Codec]uint8{media.PCMA: 8, media.PCMU: 0}, 101, "sendrecv", crypto)
}

// sourceAddr is the IP of a message's source ("ip:port"); zero if unknown.
func sourceAddr(hostport string) netip.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
