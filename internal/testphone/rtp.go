package testphone

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// Packet is one received RTP packet.
type Packet struct {
	Header  rtp.Header
	Payload []byte
	At      time.Time
}

// RTP is a test RTP endpoint: one UDP socket that records every packet it
// receives and can send a stream of frames to a peer.
type RTP struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []Packet
	peer netip.AddrPort
	ssrc uint32
	seq  uint16
	ts   uint32
	// srtpIn and srtpOut are set by SetSRTP; bad counts packets that did
	// not authenticate.
	srtpIn, srtpOut *srtp.Context
	bad             int
}

// NewRTP binds a socket on 127.0.0.1 and starts recording.
func NewRTP() (*RTP, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	r := &RTP{conn: c, ssrc: 0x1150_0001, seq: 1000, ts: 5000}
	go r.read()
	return r, nil
}

// Addr is the local RTP address.
func (r *RTP) Addr() netip.AddrPort { return r.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// SetPeer sets where Send goes.
func (r *RTP) SetPeer(p netip.AddrPort) {
	r.mu.Lock()
	r.peer = p
	r.mu.Unlock()
}

func (r *RTP) read() {
	buf := make([]byte, 1500)
	for {
		n, err := r.conn.Read(buf)
		if err != nil {
			return
		}
		data := append([]byte(nil), buf[:n]...)
		r.mu.Lock()
		in := r.srtpIn
		r.mu.Unlock()
		if in != nil {
			plain, err := in.DecryptRTP(nil, data, nil)
			if err != nil {
				r.mu.Lock()
				r.bad++
				r.mu.Unlock()
				continue
			}
			data = plain
		}
		var p rtp.Packet
		if p.Unmarshal(data) != nil {
			continue
		}
		r.mu.Lock()
		r.got = append(r.got, Packet{Header: p.Header, Payload: p.Payload, At: time.Now()})
		r.mu.Unlock()
	}
}

// Received returns a copy of the packets received so far.
func (r *RTP) Received() []Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Packet(nil), r.got...)
}

// Reset forgets the packets received so far.
func (r *RTP) Reset() {
	r.mu.Lock()
	r.got = nil
	r.mu.Unlock()
}

// Send sends n frames of payload (pt) paced at 20 ms.
func (r *RTP) Send(pt uint8, payload []byte, n int) error {
	for i := 0; i < n; i++ {
		r.mu.Lock()
		r.ts += uint32(len(payload))
		ts := r.ts
		r.mu.Unlock()
		if err := r.sendPacket(rtp.Header{PayloadType: pt, Timestamp: ts}, payload); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// sendPacket sends one packet of this stream (its SSRC and next sequence
// number; the caller's payload type, timestamp and marker), encrypted
// when SRTP is on.
func (r *RTP) sendPacket(h rtp.Header, payload []byte) error {
	r.mu.Lock()
	r.seq++
	h.Version, h.SequenceNumber, h.SSRC = 2, r.seq, r.ssrc
	peer, out := r.peer, r.srtpOut
	r.mu.Unlock()
	b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		return err
	}
	if out != nil {
		if b, err = out.EncryptRTP(nil, b, nil); err != nil {
			return err
		}
	}
	_, err = r.conn.WriteToUDPAddrPort(b, peer)
	return err
}

// Close stops the endpoint.
func (r *RTP) Close() { r.conn.Close() }
