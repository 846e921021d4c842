package media

import (
	"fmt"
	"net"
	"unsafe"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/sip/media/uring"
)

// Send batching modes (media.send_batching).
const (
	BatchAuto = "auto" // io_uring where the kernel and the process allow, else one sendto a frame
	BatchOn   = "on"   // fail to start without io_uring
	BatchOff  = "off"  // always one sendto a frame
)

// batchEntries is the size of a clock shard's ring: a phase of 5,000 hold
// streams on 2 cores is 625 frames, one submission.
const batchEntries = 1024

// sendBatch collects one clock phase's generated frames, each from its
// leg's own socket, and sends them with one io_uring submission instead of
// one sendto each. Owned by one clock shard's goroutine. With no ring it
// sends each frame at once, as before.
type sendBatch struct {
	ring *uring.Ring
	held []*udpSocket // sockets of the queued frames, read-locked until flush
	m    *metrics
	log  zerolog.Logger
}

// newSendBatch sets up a shard's batch as mode asks: no ring when off, or
// under auto where io_uring is refused (the caller logs that once).
func newSendBatch(mode string, m *metrics, log zerolog.Logger) (*sendBatch, error) {
	b := &sendBatch{m: m, log: log}
	if mode == BatchOff {
		return b, nil
	}
	r, err := uring.New(batchEntries)
	switch {
	case err == nil:
		b.ring = r
	case mode == BatchOn:
		return nil, fmt.Errorf("media.send_batching is on: %w", err)
	}
	return b, nil
}

// send queues pkt from u to dst, or sends it now without a ring (or when
// it is larger than a ring's slot). u stays read-locked until flush, so it
// cannot close (and its descriptor be reused) under the queued frame.
func (b *sendBatch) send(u *udpSocket, pkt []byte, dst *sockaddr) error {
	if b == nil || b.ring == nil || len(pkt) > uring.MaxPacket {
		return u.writeTo(pkt, dst)
	}
	if len(pkt) == 0 || dst == nil {
		return nil
	}
	u.mu.RLock()
	if u.closed {
		u.mu.RUnlock()
		return net.ErrClosed
	}
	if !b.ring.Add(u.fd, pkt, unsafe.Pointer(&dst.raw), dst.len) {
		b.flush() // full
		if b.ring == nil || !b.ring.Add(u.fd, pkt, unsafe.Pointer(&dst.raw), dst.len) {
			u.mu.RUnlock()
			return u.writeTo(pkt, dst)
		}
	}
	b.held = append(b.held, u)
	return nil
}

// flush sends what is queued and lets the sockets go. A ring that failed
// as a whole is dropped (logged once); the shard then sends frame by frame.
func (b *sendBatch) flush() {
	if b == nil || b.ring == nil || b.ring.Len() == 0 {
		return
	}
	failed, err := b.ring.Submit()
	for _, u := range b.held {
		u.mu.RUnlock()
	}
	clear(b.held)
	b.held = b.held[:0]
	b.m.sendBatches.Inc()
	if failed > 0 {
		b.m.sendFailures.Add(float64(failed))
	}
	if err != nil {
		b.log.Error().Err(err).Msg("media: io_uring failed; generated audio is sent frame by frame from now on")
		b.ring = nil // not closed: requests the kernel may still hold point into its memory
	}
}

// close releases the ring (the shard has stopped: nothing is queued).
func (b *sendBatch) close() {
	if b != nil && b.ring != nil {
		b.ring.Close()
		b.ring = nil
	}
}
