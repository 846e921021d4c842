package testphone

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/pion/rtp"
)

// dtmfEvents are the RFC 4733 event codes 0–15 by key.
const dtmfEvents = "0123456789*#ABCD"

// SendDTMF presses key as an RFC 4733 telephone-event (payload type pt,
// 101 in this phone's offers): a 100 ms event in 20 ms packets of one
// timestamp, the end packet three times (as phones send it).
func (r *RTP) SendDTMF(pt uint8, key rune) error {
	ev := strings.IndexRune(dtmfEvents, key)
	if ev < 0 {
		return fmt.Errorf("testphone: %q is no DTMF key", key)
	}
	r.mu.Lock()
	r.ts += 800 // a new event: its own timestamp
	start := r.ts
	r.mu.Unlock()
	for i := 1; i <= 7; i++ {
		end := i >= 5
		dur := min(i, 5) * 160
		payload := make([]byte, 4)
		payload[0] = byte(ev)
		payload[1] = 10 // volume −10 dBm0
		if end {
			payload[1] |= 0x80
		}
		binary.BigEndian.PutUint16(payload[2:], uint16(dur))
		if err := r.sendPacket(rtp.Header{PayloadType: pt, Timestamp: start, Marker: i == 1}, payload); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
