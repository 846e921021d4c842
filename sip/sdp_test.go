package sip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/sc115/sc115/sip/media"
)

const offerDynamic = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
	"m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" +
	"m=audio 4000 RTP/AVP 9 0 8 96\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n"

func TestParseAudioKeepsOffererPayloadTypes(t *testing.T) {
	o, err := parseAudio([]byte(offerDynamic))
	if err != nil {
		t.Fatal(err)
	}
	if o.remote != netip.MustParseAddrPort("192.0.2.10:4000") {
		t.Errorf("remote %v", o.remote)
	}
	if len(o.formats) != 2 || o.formats[0] != media.PCMU || o.formats[1] != media.PCMA {
		t.Errorf("formats %v, want PCMU then PCMA (offerer's order, G.722 skipped)", o.formats)
	}
	if o.dtmfPT != 96 {
		t.Errorf("telephone-event pt %d, want the offerer's 96", o.dtmfPT)
	}
	p, body := answerSDP(netip.MustParseAddrPort("127.0.0.1:20002"), o, nil)
	if p.Codec != media.PCMU || p.PT != 0 || p.DTMFPT != 96 {
		t.Errorf("params %+v", p)
	}
	s := string(body)
	for _, want := range []string{"m=audio 20002 RTP/AVP 0 96\r\n", "a=rtpmap:96 telephone-event/8000", "c=IN IP4 127.0.0.1", "a=ptime:20"} {
		if !strings.Contains(s, want) {
			t.Errorf("answer lacks %q:\n%s", want, s)
		}
	}
	// The answer parses as an offer of ours again.
	if back, err := parseAudio(body); err != nil || back.formats[0] != media.PCMU {
		t.Errorf("answer does not parse back: %v", err)
	}
}

func TestParseAudioRefusesWhatWeCannotSpeak(t *testing.T) {
	g722 := "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n"
	if _, err := parseAudio([]byte(g722)); !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("G.722 only: %v, want ErrNoCommonCodec", err)
	}
	for name, body := range map[string]string{
		"empty":    "",
		"garbage":  "hello",
		"no audio": "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n",
		"no c=":    "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
	} {
		if _, err := parseAudio([]byte(body)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	// Static payload types without rtpmap lines are understood.
	bare := "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n"
	if o, err := parseAudio([]byte(bare)); err != nil || o.formats[0] != media.PCMA || o.pts[media.PCMA] != 8 {
		t.Errorf("bare PT 8: %v %v", o, err)
	}
}

// FuzzParseAudio: no SDP from the network may panic the parser.
func FuzzParseAudio(f *testing.F) {
	f.Add([]byte(offerDynamic))
	f.Add([]byte("v=0\r\nm=audio 0 RTP/AVP\r\n"))
	f.Add([]byte(strings.Replace(offerDynamic, "RTP/AVP", "RTP/SAVP", 1) + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseAudio(b)
		if err == nil && len(o.formats) == 0 {
			t.Fatal("accepted an offer without formats")
		}
	})
}
