package media

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the media engine's Prometheus series.
type metrics struct {
	sessions prometheus.Gauge
	// packetsIn, packetsOut and kernelPackets are settled counts: user
	// space's and the kernel routes' that have ended. The series add what
	// the live kernel routes counted so far (live), so that a long call's
	// packets show while it lasts.
	packetsIn     atomic.Uint64
	packetsOut    atomic.Uint64
	kernelPackets atomic.Uint64
	live          atomic.Pointer[func() (forwarded, sunk uint64)]
	relayDrops    prometheus.Counter
	foreign       prometheus.Counter // packets from an address the signalling did not name
	framesSkipped prometheus.Counter
	// framesCaughtUp: generated frames sent late, in a burst after a
	// late wake, instead of being skipped.
	framesCaughtUp prometheus.Counter
	lateness       prometheus.Histogram
	timeouts       prometheus.Counter
	rtcpIn         prometheus.Counter
	srtpFailures   prometheus.Counter // SRTP packets that did not authenticate or were replays
	kernelRoutes   prometheus.Gauge   // routes in the kernel now: bridge directions and sinks
	sendBatches    prometheus.Counter // io_uring submissions of generated frames
	sendFailures   prometheus.Counter // batched frames the kernel refused
	worst          worstLateness
}

// worstLateness keeps the largest clock lateness of the current and the
// previous window (worstWindow each), so the gauge shows the worst of the
// last 10–20 s without being reset by whoever scrapes it.
type worstLateness struct {
	mu        sync.Mutex
	start     time.Time
	cur, prev time.Duration
}

const worstWindow = 10 * time.Second

func (w *worstLateness) observe(d time.Duration, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rotate(now)
	w.cur = max(w.cur, d)
}

func (w *worstLateness) get(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rotate(now)
	return max(w.cur, w.prev)
}

func (w *worstLateness) rotate(now time.Time) {
	switch el := now.Sub(w.start); {
	case el >= 2*worstWindow:
		w.start, w.cur, w.prev = now, 0, 0
	case el >= worstWindow:
		w.start, w.prev, w.cur = w.start.Add(worstWindow), w.cur, 0
	}
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sessions:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "sc115_media_sessions", Help: "Open RTP sessions (one per call leg)."}),
		relayDrops: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_media_relay_drops_total", Help: "Received packets not relayed (unknown payload type, no peer address, write error)."}),
		foreign: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_media_foreign_packets_dropped_total",
			Help: "RTP packets dropped because they came from an address the leg's signalling did not name (media.latching)."}),
		framesSkipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_media_clock_frames_skipped_total", Help: "Generated frames skipped because the media clock woke late."}),
		framesCaughtUp: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_media_clock_frames_caught_up_total",
			Help: "Generated frames sent late, back to back after a late wake of the media clock, instead of being skipped."}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sc115_media_clock_lateness_seconds", Help: "How late the media clock woke for a 20 ms tick.",
			Buckets: []float64{.001, .002, .005, .01, .02, .04, .08}}),
		rtcpIn:   prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_media_rtcp_packets_in_total", Help: "RTCP packets received."}),
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_media_timeouts_total", Help: "Call legs ended because their RTP stopped (or never started)."}),
		srtpFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_media_srtp_failures_total",
			Help: "SRTP packets dropped because they did not authenticate with the peer's key or were replays."}),
		kernelRoutes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sc115_media_kernel_routes", Help: "Routes in the kernel now (media.kernel_forwarding): directions of bridged calls, and sinks of legs bridged to no one."}),
		sendBatches: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_media_send_batches_total",
			Help: "Submissions of a clock phase's generated frames (prompts, hold audio) in one io_uring system call (media.send_batching)."}),
		sendFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_media_send_failures_total",
			Help: "Generated frames of a batch the kernel refused to send (a full send buffer, a socket closed meanwhile)."}),
	}
	live := func() (uint64, uint64) {
		if f := m.live.Load(); f != nil {
			return (*f)()
		}
		return 0, 0
	}
	packetsIn := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sc115_media_packets_in_total", Help: "RTP packets received (those the kernel took included)."},
		func() float64 { f, s := live(); return float64(m.packetsIn.Load() + f + s) })
	packetsOut := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sc115_media_packets_out_total", Help: "RTP packets sent (those the kernel forwarded included)."},
		func() float64 { f, _ := live(); return float64(m.packetsOut.Load() + f) })
	kernelPackets := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sc115_media_kernel_packets_total",
		Help: "RTP packets the kernel forwarded to the other leg or, for a leg bridged to no one, counted and dropped (media.kernel_forwarding)."},
		func() float64 { f, s := live(); return float64(m.kernelPackets.Load() + f + s) })
	worst := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sc115_media_clock_worst_lateness_seconds", Help: "The latest the media clock woke for a tick in the last 10–20 s."},
		func() float64 { return m.worst.get(time.Now()).Seconds() })
	if reg != nil {
		reg.MustRegister(m.sessions, packetsIn, packetsOut, m.relayDrops, m.foreign, m.framesSkipped, m.framesCaughtUp, m.lateness, m.timeouts, m.rtcpIn, m.srtpFailures, m.kernelRoutes, kernelPackets, worst, m.sendBatches, m.sendFailures)
	}
	return m
}

func (m *metrics) observeLateness(d time.Duration) {
	m.lateness.Observe(d.Seconds())
	m.worst.observe(d, time.Now())
}
