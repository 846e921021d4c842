package media

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sc115/sc115/internal/cfgerr"
)

// Config is the media section of the sc115 configuration.
type Config struct {
	// RTPPorts is the UDP port range for RTP, e.g. "20000-29999".
	RTPPorts string `yaml:"rtp_ports"`
	// IP is the local address RTP sockets bind to and that SDP advertises.
	// Empty means the host of the SIP listen address.
	IP string `yaml:"ip"`
	// PromptsDir holds the WAV prompts (8 kHz mono 16-bit PCM).
	PromptsDir string `yaml:"prompts_dir"`
	// HoldTrack is the WAV file, relative to PromptsDir, played while queued.
	HoldTrack string `yaml:"hold_track"`
	// DefaultGreeting is the WAV file, relative to PromptsDir, greeting callers
	// of a municipality that has no greeting of its own.
	DefaultGreeting string `yaml:"default_greeting"`
	// FirstPacketTimeout ends a call whose leg sends no RTP at all for this
	// long after it was answered; IdleTimeout one whose RTP stopped for this
	// long (a phone that died without BYE). 0 disables either.
	FirstPacketTimeout time.Duration `yaml:"first_packet_timeout"`
	IdleTimeout        time.Duration `yaml:"idle_timeout"`
	// Latching says whose RTP a leg takes (everything else is dropped and
	// counted): "signalled-ip" (default) — packets from the IP the SDP
	// names or the peer's SIP source IP (NAT); the first such packet fixes
	// the port, and from then on only that address; "strict" — only the
	// exact address the SDP names; "any" — the first packet from anywhere
	// (no protection; for peers behind odd NATs). A re-INVITE that names
	// a new address opens latching again.
	Latching string `yaml:"latching"`
	// KernelForwarding moves the relay of a bridged call into the kernel
	// (eBPF on tcx ingress; needs root or CAP_BPF and CAP_NET_ADMIN, Linux
	// ≥ 6.6, an IPv4 media address): "auto" (default) where it loads, else
	// in user space with one log line; "on" refuses to start without it;
	// "off" always in user space. Transcoded and SRTP legs, DTMF events,
	// RTCP and the first packets of every source stay in user space.
	KernelForwarding string `yaml:"kernel_forwarding"`
	// SendBatching sends each media clock phase's generated frames
	// (prompts, hold audio: one per leg from the leg's own socket) with one
	// io_uring submission instead of one sendto each: "auto" (default)
	// where the kernel allows io_uring, else frame by frame with one log
	// line; "on" refuses to start without it; "off" frame by frame.
	SendBatching string `yaml:"send_batching"`
	// ClockPriority runs the media clock (prompts, hold audio) on
	// real-time threads (SCHED_FIFO 10), so that its frames leave on time
	// however busy the cores are: "off" (default) normal priority; "auto"
	// where the process may (root or CAP_SYS_NICE), else at normal
	// priority with one log line; "on" refuses to start without it. Off by
	// default because, measured, it costs 12 % more CPU per call at 200
	// calls/s (every phase's wake-up preempts the call path) and did not
	// make 5,000 on hold clean (BENCHMARKS.md).
	ClockPriority string `yaml:"clock_priority"`
}

// Latching modes.
const (
	LatchSignalledIP = "signalled-ip"
	LatchStrict      = "strict"
	LatchAny         = "any"
)

// Defaults returns the media defaults used when the config leaves fields empty.
func Defaults() Config {
	return Config{RTPPorts: "20000-29999", PromptsDir: "prompts/de", HoldTrack: "hold.wav", DefaultGreeting: "greeting.wav",
		FirstPacketTimeout: 30 * time.Second, IdleTimeout: 15 * time.Second, Latching: LatchSignalledIP,
		KernelForwarding: KernelAuto, SendBatching: BatchAuto, ClockPriority: PriorityOff}
}

// Validate checks the section; errors are *cfgerr.FieldError with a YAML path.
func (c *Config) Validate() error {
	if _, _, err := ParsePortRange(c.RTPPorts); err != nil {
		return cfgerr.New("media.rtp_ports", "%v", err)
	}
	if _, err := parseLatching(c.Latching); err != nil {
		return cfgerr.New("media.latching", "%q is not one of signalled-ip, strict, any", c.Latching)
	}
	switch c.KernelForwarding {
	case "", KernelAuto, KernelOn, KernelOff:
	default:
		return cfgerr.New("media.kernel_forwarding", "%q is not one of auto, on, off", c.KernelForwarding)
	}
	switch c.SendBatching {
	case "", BatchAuto, BatchOn, BatchOff:
	default:
		return cfgerr.New("media.send_batching", "%q is not one of auto, on, off", c.SendBatching)
	}
	switch c.ClockPriority {
	case "", PriorityAuto, PriorityOn, PriorityOff:
	default:
		return cfgerr.New("media.clock_priority", "%q is not one of auto, on, off", c.ClockPriority)
	}
	return nil
}

// ParsePortRange parses "LOW-HIGH" into an even-aligned inclusive range with
// room for at least one RTP/RTCP pair.
func ParsePortRange(s string) (low, high int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("want LOW-HIGH, got %q", s)
	}
	low, err1 := strconv.Atoi(strings.TrimSpace(a))
	high, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("want LOW-HIGH with numbers, got %q", s)
	}
	if low < 1024 || high > 65535 || high-low < 1 {
		return 0, 0, fmt.Errorf("range %q must lie within 1024-65535 and hold at least two ports", s)
	}
	return low, high, nil
}

// FrameDuration is the packetisation time sc115 uses for G.711: 20 ms.
const FrameDuration = 20 * time.Millisecond

// FrameSamples is the number of 8 kHz samples (and G.711 bytes) in one frame.
const FrameSamples = 160
