package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sc115/sc115/cdr/billing"
)

// Agent is a virtual agent: its SIP user and password.
type Agent struct{ User, Password string }

// Config is a simulation run.
type Config struct {
	Target string // sc115's SIP address, host:port (loopback)
	Dialed string // the number callers dial, e.g. 05136115
	Agents []Agent
	// Rate is the mean arrivals per second (Poisson); Calls how many calls
	// in all.
	Rate  float64
	Calls int
	// RateAt, if set, is the arrival rate at a time into the run (e.g. an
	// intraday profile sped up), never above Rate: arrivals are thinned
	// from a Poisson process at Rate.
	RateAt func(elapsed time.Duration) float64
	// Patience is callers' mean patience (exponential; 0: they wait as
	// long as it takes), Talk the mean talk time (exponential), RingDelay
	// how long agents let the phone ring.
	Patience, Talk, RingDelay time.Duration
	// Wrapup is the wrap-up sc115 gives agents (for the prediction: an
	// agent's handling time is ring + talk + wrap-up).
	Wrapup time.Duration
	// WrapupMean, if set, makes the agents end their wrap-up themselves
	// after an exponential time of this mean (capped by Wrapup), by dialing
	// ReadyCode (sc115's feature code, default *44) from their phones, as
	// agents do who are done early.
	WrapupMean time.Duration
	ReadyCode  string
	// Threshold of the service level.
	Threshold time.Duration
	Seed      uint64
	// Progress gets a line a second (nil: none).
	Progress io.Writer
	// MeasureHold records how evenly sc115 paces each caller's generated
	// audio until an agent speaks (Result.Hold).
	MeasureHold bool
}

// Result is what the callers experienced.
type Result struct {
	Offered, Answered, Abandoned, Failed int
	AnsweredWithin                       int
	Waits, Setups                        []time.Duration // answered calls' waits; every call's INVITE → 200
	Talks                                []time.Duration // the agents' talk times as drawn
	Wrapups                              []time.Duration // the agents' wrap-ups as drawn (WrapupMean set)
	// ArrivalSpan is from the first to the last arrival (the realised rate
	// is Offered−1 over it).
	ArrivalSpan                time.Duration
	FramesSent, FramesReceived int64 // agents' audio frames, and those that reached callers
	WrongLaw                   int64 // frames that arrived in another law than the leg offered
	// CallerFramesSent are the callers' frames (sent from answer to end,
	// also while waiting), CallerFramesAtAgents those that reached an
	// agent: the other direction of the bridge.
	CallerFramesSent, CallerFramesAtAgents int64
	// LateTicks counts the generator's RTP clock falling a frame behind:
	// above 0, the generator was overloaded and its media figures suffer.
	LateTicks int64
	// PeakLive is the most calls alive at once (sampled), PeakGoroutines
	// the run's own goroutines then, BaselineGoroutines before the first
	// call (sockets, readers, pacers): the generator's cost in goroutines
	// per call is the difference over PeakLive.
	PeakLive, PeakGoroutines, BaselineGoroutines int
	Elapsed                                      time.Duration
	// Predicted is the model's service level for the traffic as it came —
	// the realised arrival rate and mean talk, plus ring delay and wrap-up
	// — and the agents; Erlangs that traffic; Model "Erlang C", or
	// "Erlang A" when callers have a patience.
	Predicted, Erlangs float64
	Model              string
	// FixedWait is the part of every wait before the queue (the
	// greeting), estimated as the shortest wait; the prediction leaves it
	// out of the threshold. At a load where no caller ever finds an agent
	// free it is too long, and the prediction too low.
	FixedWait time.Duration
	// Hold is the pacing of the generated audio callers heard before an
	// agent (with Config.MeasureHold).
	Hold HoldPacing
}

// ServiceLevel is answered within the threshold ÷ offered.
func (r Result) ServiceLevel() float64 {
	if r.Offered == 0 {
		return 0
	}
	return float64(r.AnsweredWithin) / float64(r.Offered)
}

// MediaLoss is the share of the agents' frames that never reached the caller.
func (r Result) MediaLoss() float64 {
	if r.FramesSent == 0 {
		return 0
	}
	return 1 - float64(r.FramesReceived)/float64(r.FramesSent)
}

// Quantile of d (sorted copy), 0 for none.
func Quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// minTalk is the shortest talk: ten frames.
const minTalk = 200 * time.Millisecond

// agentFrame is the audio every virtual agent sends (A-law bytes that are
// no prompt's): a caller knows an agent is on the line by it.
var agentFrame = func() []byte {
	b := make([]byte, 160)
	for i := range b {
		b[i] = byte(0x80 + i%60)
	}
	return b
}()

var callerFrame = func() []byte {
	b := make([]byte, 160)
	for i := range b {
		b[i] = byte(0x55 ^ i)
	}
	return b
}()

// Run registers the agents, places cfg.Calls calls and returns when all
// are over (or ctx ends).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Calls <= 0 || cfg.Rate <= 0 || cfg.Talk <= 0 || len(cfg.Agents) == 0 {
		return Result{}, errors.New("simulate: need calls, a rate, a talk time and agents")
	}
	var res Result
	var err error
	labelled(ctx, func(ctx context.Context) { res, err = run1(ctx, cfg) })
	return res, err
}

// run1 is Run on the run's labelled goroutine.
func run1(ctx context.Context, cfg Config) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &run{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x115))}
	if err := s.open(); err != nil {
		return Result{}, err
	}
	defer s.close()
	if cfg.MeasureHold {
		// The callers are told to hang up: the steady window ends.
		defer context.AfterFunc(ctx, s.callerMedia.closeWindow)()
	}
	if err := s.startAgents(ctx); err != nil {
		return Result{}, err
	}
	start := time.Now()
	stopSampling := s.sample(start)
	baseline := ownGoroutines()
	var wg sync.WaitGroup
	var first time.Time
	arrive := arrivals(cfg, start, s.exp, s.uniform)
	var rates []float64 // the arrival rate each call came at
	for i := 0; i < cfg.Calls && ctx.Err() == nil; i++ {
		next, rate := arrive()
		rates = append(rates, rate)
		if d := time.Until(next); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		if i == 0 {
			first = time.Now()
		}
		span := time.Since(first)
		s.count(func(r *Result) { r.ArrivalSpan = span })
		patience := time.Duration(math.MaxInt64)
		if cfg.Patience > 0 {
			patience = s.exp(cfg.Patience)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.call(ctx, i, patience)
		}()
	}
	wg.Wait()
	stopSampling()
	s.mu.Lock()
	res := s.res
	res.Talks = append([]time.Duration(nil), s.res.Talks...)
	res.Wrapups = append([]time.Duration(nil), s.res.Wrapups...)
	s.mu.Unlock()
	res.Elapsed = time.Since(start)
	res.BaselineGoroutines = baseline
	s.predict(&res, rates)
	res.FramesSent, res.FramesReceived = s.agentMedia.sent.Load(), s.callerMedia.got.Load()
	res.WrongLaw = s.callerMedia.wrongLaw.Load() + s.agentMedia.wrongLaw.Load()
	res.CallerFramesSent, res.CallerFramesAtAgents = s.callerMedia.sent.Load(), s.agentMedia.got.Load()
	res.LateTicks = s.callerMedia.late.Load() + s.agentMedia.late.Load()
	if cfg.MeasureHold {
		s.callerMedia.close() // its reader stops: the pacing records are final
		s.callerMedia.mu.Lock()
		to := s.callerMedia.windowTo.Load()
		if to == 0 {
			to = time.Now().UnixNano()
		}
		res.Hold = holdPacing(s.callerMedia.held, s.callerMedia.windowFrom.Load(), to)
		s.callerMedia.mu.Unlock()
	}
	return res, nil
}

// predict sets Erlang C's service level for the traffic as it came.
func (s *run) predict(res *Result, rates []float64) {
	cfg := s.cfg
	var talk time.Duration
	for _, d := range res.Talks {
		talk += d
	}
	rate := cfg.Rate
	if len(res.Talks) > 0 && res.ArrivalSpan > 0 && res.Offered > 1 {
		talk /= time.Duration(len(res.Talks))
		rate = float64(res.Offered-1) / res.ArrivalSpan.Seconds()
	} else {
		talk = cfg.Talk
	}
	wrapup := cfg.Wrapup
	if len(res.Wrapups) > 0 {
		wrapup = 0
		for _, w := range res.Wrapups {
			wrapup += w
		}
		wrapup /= time.Duration(len(res.Wrapups))
	}
	aht := cfg.RingDelay + talk + wrapup
	res.Erlangs = rate * aht.Seconds()
	// The callers' wait begins at sc115's answer, the queue's after the
	// greeting: a fixed part no queue model has. It is estimated as the
	// shortest wait of the run (a caller who found an agent free), and the
	// model gets what is left of the threshold. Callers who give up
	// during it never reach the queue; exponential patience forgets the
	// time spent, so the rest queue with the same patience.
	if len(res.Waits) > 0 {
		res.FixedWait = slices.Min(res.Waits)
	}
	left := cfg.Threshold - res.FixedWait
	// As sc115 staffing predicts: Erlang A when callers give up (its
	// service level, like the run's, is of all callers), else Erlang C.
	level := func(rate float64) float64 {
		if left < 0 {
			return 0
		}
		if cfg.Patience > 0 {
			reach := math.Exp(-res.FixedWait.Seconds() / cfg.Patience.Seconds())
			return reach * billing.ErlangAModel(rate*reach, aht, cfg.Patience, len(cfg.Agents), left).WithinT
		}
		return billing.ServiceLevel(rate*aht.Seconds(), len(cfg.Agents), aht, left)
	}
	res.Model = "Erlang C"
	if cfg.Patience > 0 {
		res.Model = "Erlang A"
	}
	res.Predicted = level(rate)
	if cfg.RateAt != nil && len(rates) > 0 {
		// A varying rate: each call's chance by the rate it came at (the
		// model in steady state at every moment), averaged over the calls.
		sum := 0.0
		for _, r := range rates {
			sum += level(r)
		}
		res.Predicted = sum / float64(len(rates))
	}
}

// arrivals returns the next arrival time and the rate at it: Poisson at
// cfg.Rate, thinned to cfg.RateAt(t) when that is set (Lewis–Shedler).
func arrivals(cfg Config, start time.Time, exp func(time.Duration) time.Duration, uniform func() float64) func() (time.Time, float64) {
	t := time.Duration(0)
	firstCall := true
	return func() (time.Time, float64) {
		for {
			if !firstCall || cfg.RateAt != nil {
				t += exp(time.Duration(float64(time.Second) / cfg.Rate))
			}
			firstCall = false
			if cfg.RateAt == nil {
				return start.Add(t), cfg.Rate
			}
			if r := cfg.RateAt(t); uniform()*cfg.Rate < r {
				return start.Add(t), r
			}
		}
	}
}

// run is a simulation in progress: two SIP sockets (the callers', the
// agents') and two RTP sockets, whatever the number of calls.
type run struct {
	cfg                   Config
	callerUA, agentUA     *userAgent
	callerMedia           *mediaPort
	agentMedia            *mediaPort
	agents                map[string]*agent // by SIP user; fixed once started
	rngMu                 sync.Mutex        // guards rng (agents and callers draw from it)
	rng                   *rand.Rand
	mu                    sync.Mutex // guards res's counters and slices
	res                   Result
	waiting, live         atomic.Int64
	peakGoroutines, peakN atomic.Int64
}

// open binds the sockets.
func (s *run) open() error {
	var err error
	if s.callerUA, err = newUserAgent("sc115-simulate-callers"); err != nil {
		return err
	}
	if s.agentUA, err = newUserAgent("sc115-simulate-agents"); err != nil {
		s.callerUA.close()
		return err
	}
	if s.callerMedia, err = newMediaPort(s.cfg.MeasureHold); err != nil {
		s.callerUA.close()
		s.agentUA.close()
		return err
	}
	if s.agentMedia, err = newMediaPort(false); err != nil {
		s.callerMedia.close()
		s.callerUA.close()
		s.agentUA.close()
		return err
	}
	return nil
}

// close releases the sockets.
func (s *run) close() {
	s.callerUA.close()
	s.agentUA.close()
	s.callerMedia.close()
	s.agentMedia.close()
}

// exp draws an exponential time of mean m.
func (s *run) exp(m time.Duration) time.Duration {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return time.Duration(s.rng.ExpFloat64() * float64(m))
}

// uniform draws from [0, 1).
func (s *run) uniform() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

func (s *run) count(f func(*Result)) {
	s.mu.Lock()
	f(&s.res)
	s.mu.Unlock()
}

// sample notes the peak of live calls four times a second, the run's
// goroutines at a new peak (at most once a second: counting them walks all
// goroutines), and writes a progress line each second, until stopped.
func (s *run) sample(start time.Time) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		var counted time.Time
		for tick := 1; ; tick++ {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if s.cfg.MeasureHold {
				if n := s.live.Load(); n >= int64(s.cfg.Calls) {
					s.callerMedia.openWindow()
				} else {
					s.callerMedia.closeWindow() // the first hang-up (nothing if it never opened)
				}
			}
			if n := s.live.Load(); n > s.peakN.Load() && time.Since(counted) >= time.Second {
				s.peakN.Store(n)
				s.peakGoroutines.Store(int64(ownGoroutines()))
				counted = time.Now()
			}
			if s.cfg.Progress == nil || tick%4 != 0 {
				continue
			}
			s.mu.Lock()
			r := s.res
			s.mu.Unlock()
			sl := "–"
			if r.Offered > 0 {
				sl = fmt.Sprintf("%.0f %%", 100*float64(r.AnsweredWithin)/float64(r.Offered))
			}
			fmt.Fprintf(s.cfg.Progress, "%5.0fs offered %d waiting %d answered %d abandoned %d failed %d SL %s\n",
				time.Since(start).Seconds(), r.Offered, s.waiting.Load(), r.Answered, r.Abandoned, r.Failed, sl)
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		s.count(func(r *Result) { r.PeakLive, r.PeakGoroutines = int(s.peakN.Load()), int(s.peakGoroutines.Load()) })
	}
}

// GoroutinesPerCall is the run's goroutines beyond its fixed ones, per
// live call, at the sampled peak (0 when nothing was sampled).
func (r Result) GoroutinesPerCall() float64 {
	if r.PeakLive == 0 {
		return 0
	}
	return float64(r.PeakGoroutines-r.BaselineGoroutines) / float64(r.PeakLive)
}
