package media

import "github.com/zaf/g711"

// Codec is a G.711 law. Its value is the static RTP payload type.
type Codec uint8

const (
	// PCMU is G.711 µ-law, static payload type 0.
	PCMU Codec = 0
	// PCMA is G.711 A-law, static payload type 8.
	PCMA Codec = 8
)

// String returns the SDP encoding name.
func (c Codec) String() string {
	if c == PCMA {
		return "PCMA"
	}
	return "PCMU"
}

// transcodeInto converts a G.711 payload from one law into dst (same length)
// and returns it. Same law: the source is returned untouched.
func transcodeInto(dst, src []byte, from, to Codec) []byte {
	if from == to {
		return src
	}
	dst = dst[:len(src)]
	if from == PCMA {
		for i, b := range src {
			dst[i] = g711.Alaw2UlawFrame(b)
		}
	} else {
		for i, b := range src {
			dst[i] = g711.Ulaw2AlawFrame(b)
		}
	}
	return dst
}
