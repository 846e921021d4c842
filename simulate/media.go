package simulate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// frameInterval is G.711's 20 ms packetisation.
const frameInterval = 20 * time.Millisecond

// mediaPort is one RTP socket shared by many call legs — all callers' legs,
// or all agents' legs. Every leg's SDP names this socket; sc115 sends each
// leg from a socket of its own, so the source address of a packet tells
// the leg it belongs to. One goroutine reads the socket; one paces every
// leg's frames, so a leg costs no goroutine and no socket.
type mediaPort struct {
	conn *net.UDPConn
	bc   *batchConn // recvmmsg for the reader, sendmmsg for the pacer
	addr netip.AddrPort

	mu      sync.RWMutex
	streams map[netip.AddrPort]*stream // by sc115's address for the leg
	ssrc    uint32                     // the last SSRC handed out

	// sent, got and wrongLaw count over all legs: frames sent, expected
	// frames received, and those of them in another payload type than
	// the leg's. late counts pacer ticks that came more than a frame late
	// (the generator itself fell behind: a measurement it spoils).
	sent, got, wrongLaw, late atomic.Int64
	// paced, with measure: the streams that have had generated audio.
	paced atomic.Int64
	done  chan struct{}
	wg    sync.WaitGroup

	// measure: record each stream's pacing of generated audio (hold) from
	// kernel receive timestamps; held collects the streams detached.
	measure   bool
	held      []*pacing
	closeOnce sync.Once
	// window, with measure: the steady part of the run, from when every
	// call was on the line at once to the first hang-up (unix ns; 0: not
	// yet). Frames outside it are not measured once it has opened; if it
	// never opens, every frame is.
	windowFrom, windowTo atomic.Int64
}

// openWindow starts the steady window now, once.
func (m *mediaPort) openWindow() { m.windowFrom.CompareAndSwap(0, time.Now().UnixNano()) }

// closeWindow ends an open window now, once.
func (m *mediaPort) closeWindow() {
	if m.windowFrom.Load() != 0 {
		m.windowTo.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// inWindow says whether a frame that arrived at (unix ns) is measured.
func (m *mediaPort) inWindow(at int64) bool {
	from, to := m.windowFrom.Load(), m.windowTo.Load()
	return from == 0 || at >= from && (to == 0 || at < to)
}

// stream is one leg's RTP: what it sends (when sending), and what it
// counts of what it receives.
type stream struct {
	peer    netip.AddrPort
	send    []byte // the frame it sends every 20 ms
	expect  []byte // the frame that tells the other side is on the line
	pt      uint8  // the payload type it sends and expects
	ssrc    uint32
	seq     uint16 // pacer only
	ts      uint32 // pacer only
	sending atomic.Bool

	heardOnce sync.Once
	heard     chan struct{} // closed at the first expected frame
	heardYet  bool          // reader only
	pacedYet  bool          // reader only: a generated frame came
	pace      pacing        // reader only, with measure
}

// newMediaPort binds a socket on 127.0.0.1 and starts its reader and
// pacer; with measure the reader records the pacing of generated audio.
func newMediaPort(measure bool) (*mediaPort, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	// Thousands of legs share the socket: give the kernel room for bursts.
	_ = c.SetReadBuffer(4 << 20)
	_ = c.SetWriteBuffer(4 << 20)
	if measure {
		raw, err := c.SyscallConn()
		var serr error
		if err == nil {
			err = raw.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
				// 250,000 hold frames a second for 5,000 callers: 20 ms of
				// them fill 4 MB. Root may go past net.core.rmem_max.
				if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20) != nil {
					_ = c.SetReadBuffer(64 << 20)
				}
			})
		}
		if err != nil || serr != nil {
			c.Close()
			return nil, fmt.Errorf("SO_TIMESTAMPNS: %v %v", err, serr)
		}
	}
	bc, err := newBatchConn(c, 1500, 64)
	if err != nil {
		c.Close()
		return nil, err
	}
	m := &mediaPort{conn: c, bc: bc, addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), streams: map[netip.AddrPort]*stream{},
		ssrc: 0x1150_0000, done: make(chan struct{}), measure: measure}
	m.wg.Add(2)
	go m.read()
	go m.pace()
	return m, nil
}

// newStream makes a leg's stream, not yet attached (it neither sends nor
// counts until attach).
func (m *mediaPort) newStream(send, expect []byte, pt uint8) *stream {
	m.mu.Lock()
	m.ssrc++
	ssrc := m.ssrc
	m.mu.Unlock()
	return &stream{send: send, expect: expect, pt: pt, ssrc: ssrc, seq: uint16(ssrc * 7), ts: ssrc * 160, heard: make(chan struct{})}
}

// attach makes st the leg whose sc115 side is peer: packets from there
// are counted on it, and the pacer sends to there while st is sending.
func (m *mediaPort) attach(st *stream, peer netip.AddrPort) {
	m.mu.Lock()
	st.peer = peer
	m.streams[peer] = st
	m.mu.Unlock()
}

// detach ends st's part in the port.
func (m *mediaPort) detach(st *stream) {
	st.sending.Store(false)
	m.mu.Lock()
	if m.streams[st.peer] == st {
		delete(m.streams, st.peer)
	}
	if m.measure {
		m.held = append(m.held, &st.pace) // read by the summary after the reader has stopped
	}
	m.mu.Unlock()
}

// read counts every packet on the stream its source names. Only a frame
// equal to the stream's expected one counts: prompts and hold audio are
// not the other party.
func (m *mediaPort) read() {
	defer m.wg.Done()
	var dgs []datagram
	for {
		var err error
		if dgs, err = m.bc.read(dgs[:0]); err != nil {
			var errno syscall.Errno
			if errors.As(err, &errno) {
				continue // a datagram's error (the socket lives on)
			}
			return // closed
		}
		m.mu.RLock()
		for _, d := range dgs {
			if st := m.streams[d.from]; st != nil {
				m.count(st, d)
			}
		}
		m.mu.RUnlock()
	}
}

// count takes one datagram of st's (reader only).
func (m *mediaPort) count(st *stream, d datagram) {
	pt, payload, ok := rtpPayload(d.data)
	if !ok {
		return
	}
	if !bytes.Equal(payload, st.expect) {
		if m.measure && !st.heardYet {
			if !st.pacedYet {
				st.pacedYet = true
				m.paced.Add(1)
			}
			if at := kernelTime(d.oob); m.inWindow(at) {
				if from := m.windowFrom.Load(); from != 0 && st.pace.frames > 0 && st.pace.first < from {
					st.pace.reset() // the window opened: what came before is not measured
				}
				st.pace.frame(d.data, at)
			}
		}
		return
	}
	if pt != st.pt {
		m.wrongLaw.Add(1)
	}
	m.got.Add(1)
	st.heardYet = true
	st.heardOnce.Do(func() { close(st.heard) })
}

// rtpPayload returns an RTP packet's payload type and payload (RFC 3550
// §5.1: CSRCs, an extension and padding skipped).
func rtpPayload(b []byte) (uint8, []byte, bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return 0, nil, false
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return 0, nil, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 && end > 0 {
		end -= int(b[end-1])
	}
	if off > end {
		return 0, nil, false
	}
	return b[1] & 0x7f, b[off:end], true
}

// pace sends one frame on every sending stream each 20 ms, all in one
// loop: the generator's cost is one sendmmsg per 64 frames and nothing
// per leg in between. A tick that comes more than a frame late is counted, and
// the clock skips ahead instead of bursting.
func (m *mediaPort) pace() {
	defer m.wg.Done()
	var legs []*stream
	pkt := make([]byte, 12+160)
	next := time.Now()
	timer := time.NewTimer(frameInterval)
	defer timer.Stop()
	for {
		next = next.Add(frameInterval)
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			select {
			case <-m.done:
				return
			case <-timer.C:
			}
		} else if -d > frameInterval {
			m.late.Add(1)
			next = time.Now()
		}
		legs = legs[:0]
		m.mu.RLock()
		for _, st := range m.streams {
			if st.sending.Load() {
				legs = append(legs, st)
			}
		}
		m.mu.RUnlock()
		for _, st := range legs {
			st.seq++
			st.ts += uint32(len(st.send))
			pkt = append(pkt[:0], 0x80, st.pt)
			pkt = binary.BigEndian.AppendUint16(pkt, st.seq)
			pkt = binary.BigEndian.AppendUint32(pkt, st.ts)
			pkt = binary.BigEndian.AppendUint32(pkt, st.ssrc)
			pkt = append(pkt, st.send...)
			if m.bc.queue(pkt, st.peer) == nil {
				m.sent.Add(1)
			}
		}
		_ = m.bc.flush()
	}
}

// close stops the port.
func (m *mediaPort) close() {
	m.closeOnce.Do(func() {
		close(m.done)
		m.conn.Close()
		m.wg.Wait()
	})
}
