package media

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sc115/sc115/sip/media/kernel"
)

// Engine creates RTP sessions and owns what they share: the port range, the
// media clock, the loaded prompts and the metrics.
type Engine struct {
	ports   *portAllocator
	clock   *clock
	pollers []*poller
	nextP   atomic.Uint64
	m       *metrics
	log     zerolog.Logger
	prompts map[string]*Prompt
	stop    chan struct{}
	cfg     Config

	latching   latchMode // media.latching
	foreignLog foreignLog
	kernel     *kernel.Forwarder // nil: bridged RTP is relayed in user space
}

// NewEngine validates cfg, loads every WAV in cfg.PromptsDir (encoded once
// into both laws) and starts the media clock. ip is the address RTP binds to.
func NewEngine(cfg Config, ip string, reg prometheus.Registerer, log zerolog.Logger) (*Engine, error) {
	low, high, err := ParsePortRange(cfg.RTPPorts)
	if err != nil {
		return nil, err
	}
	if cfg.IP != "" {
		ip = cfg.IP
	}
	addr, perr := netip.ParseAddr(ip)
	if perr != nil || addr.IsUnspecified() {
		return nil, fmt.Errorf("media ip %q must be a concrete address (SDP advertises it)", ip)
	}
	latching, err := parseLatching(cfg.Latching)
	if err != nil {
		return nil, err
	}
	e := &Engine{ports: newPortAllocator(addr, low, high), m: newMetrics(reg), log: log, prompts: map[string]*Prompt{}, stop: make(chan struct{}), cfg: cfg,
		latching: latching}
	files, _ := filepath.Glob(filepath.Join(cfg.PromptsDir, "*.wav"))
	for _, f := range files {
		p, err := LoadWAV(f)
		if err != nil {
			return nil, err
		}
		e.prompts[p.Name] = p
	}
	for _, name := range []string{cfg.HoldTrack, cfg.DefaultGreeting} {
		if _, ok := e.prompts[name]; !ok {
			return nil, fmt.Errorf("prompt %q not found in %s", name, cfg.PromptsDir)
		}
	}
	for range runtime.GOMAXPROCS(0) {
		p, err := newPoller()
		if err != nil {
			for _, p := range e.pollers {
				p.close()
			}
			return nil, fmt.Errorf("media poller: %w", err)
		}
		e.pollers = append(e.pollers, p)
		go p.run()
	}
	if err := e.openKernel(cfg.KernelForwarding, addr); err != nil {
		for _, p := range e.pollers {
			p.close()
		}
		return nil, err
	}
	if e.clock, err = newClock(e.m, cfg.SendBatching, cfg.ClockPriority, log, e.stop); err != nil {
		for _, p := range e.pollers {
			p.close()
		}
		if e.kernel != nil {
			e.kernel.Close()
		}
		return nil, err
	}
	if e.clock.batched() {
		e.log.Info().Msg("media: prompts and hold audio are sent a clock phase at a time (io_uring)")
	} else if cfg.SendBatching != BatchOff {
		e.log.Info().Msg("media: io_uring unavailable, prompts and hold audio are sent frame by frame")
	}
	return e, nil
}

// Prompt returns a loaded prompt by file name, or nil.
func (e *Engine) Prompt(name string) *Prompt { return e.prompts[name] }

// Silent reports whether a leg has been without RTP for longer than the
// configured timeouts: since answered (the call's ACK; the socket may be
// bound seconds before, while the 200 OK waits for it) if nothing ever
// came, else since its last packet.
func (e *Engine) Silent(s *Session, answered, now time.Time) bool {
	last := s.LastReceived()
	if last.IsZero() {
		return e.cfg.FirstPacketTimeout > 0 && now.Sub(answered) > e.cfg.FirstPacketTimeout
	}
	return e.cfg.IdleTimeout > 0 && now.Sub(last) > e.cfg.IdleTimeout
}

// IdleTimeout is the configured silence allowed after the last packet.
func (e *Engine) IdleTimeout() time.Duration { return e.cfg.IdleTimeout }

// MediaTimeouts counts legs ended for silence.
func (e *Engine) MediaTimeouts() { e.m.timeouts.Inc() }

// Close stops the media clock and the pollers. Sessions must be closed by
// their owners.
func (e *Engine) Close() {
	close(e.stop)
	for _, p := range e.pollers {
		p.close()
	}
	if e.kernel != nil {
		e.m.live.Store(nil)
		e.kernel.Close()
	}
}

// NewSession binds a new RTP socket on a free even port (RTCP above it)
// and starts reading both.
func (e *Engine) NewSession() (*Session, error) {
	sock, rtcp, err := e.ports.listen()
	if err != nil {
		return nil, err
	}
	s := &Session{eng: e, sock: sock, rtcp: rtcp}
	s.out.ssrc = randUint32()
	s.out.seq = uint16(randUint32())
	s.out.ts = randUint32()
	s.poller = e.pollers[e.nextP.Add(1)%uint64(len(e.pollers))]
	if err := s.poller.add(s); err != nil {
		sock.close()
		rtcp.close()
		return nil, fmt.Errorf("media poller: %w", err)
	}
	e.m.sessions.Inc()
	return s, nil
}
