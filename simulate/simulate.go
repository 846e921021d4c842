package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sc115/sc115/cdr/billing"
	"github.com/sc115/sc115/internal/testphone"
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
	WrongLaw                   int64 // frames that reached a caller in another law than it offered
	Elapsed                    time.Duration
	// Predicted is Erlang C's service level for the traffic as it came —
	// the realised arrival rate and mean talk, plus ring delay and wrap-up
	// — and the agents; Erlangs that traffic.
	Predicted, Erlangs float64
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
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x115))
	var mu sync.Mutex // guards rng (agents and callers draw from it)
	exp := func(mean time.Duration) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return time.Duration(rng.ExpFloat64() * float64(mean))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &run{cfg: cfg}
	for _, a := range cfg.Agents {
		if err := s.startAgent(ctx, a, exp); err != nil {
			return Result{}, err
		}
	}
	caller, err := testphone.New("+495136100000", "127.0.0.1")
	if err != nil {
		return Result{}, err
	}
	defer caller.Close()
	start := time.Now()
	stopProgress := s.progress(start)
	var wg sync.WaitGroup
	var first time.Time
	arrive := arrivals(cfg, start, exp, func() float64 { mu.Lock(); defer mu.Unlock(); return rng.Float64() })
	var rates []float64 // the arrival rate each call came at
	for i := 0; i < cfg.Calls && ctx.Err() == nil; i++ {
		next, rate := arrive()
		rates = append(rates, rate)
		select {
		case <-time.After(time.Until(next)):
		case <-ctx.Done():
		}
		if i == 0 {
			first = time.Now()
		}
		span := time.Since(first)
		s.count(func(r *Result) { r.ArrivalSpan = span })
		patience := time.Duration(math.MaxInt64)
		if cfg.Patience > 0 {
			patience = exp(cfg.Patience)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.call(ctx, caller, patience)
		}()
	}
	wg.Wait()
	stopProgress()
	s.mu.Lock()
	res := s.res
	res.Talks = append([]time.Duration(nil), s.res.Talks...)
	res.Wrapups = append([]time.Duration(nil), s.res.Wrapups...)
	s.mu.Unlock()
	res.Elapsed = time.Since(start)
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
	res.Predicted = billing.ServiceLevel(res.Erlangs, len(cfg.Agents), aht, cfg.Threshold)
	if cfg.RateAt != nil && len(rates) > 0 {
		// A varying rate: each call's chance by the rate it came at (Erlang C
		// in steady state at every moment), averaged over the calls.
		sum := 0.0
		for _, r := range rates {
			sum += billing.ServiceLevel(r*aht.Seconds(), len(cfg.Agents), aht, cfg.Threshold)
		}
		res.Predicted = sum / float64(len(rates))
	}
	res.FramesSent, res.FramesReceived, res.WrongLaw = s.sent.Load(), s.received.Load(), s.wrongLaw.Load()
	return res, nil
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

// run is a simulation in progress.
type run struct {
	cfg                      Config
	mu                       sync.Mutex // guards res's counters and slices
	res                      Result
	waiting                  atomic.Int64
	sent, received, wrongLaw atomic.Int64
}

// startAgent registers an agent's phone; each offer it answers after the
// ring delay, talks (RTP) for a random time and hangs up.
func (s *run) startAgent(ctx context.Context, a Agent, exp func(time.Duration) time.Duration) error {
	ph, err := testphone.New(a.User, "127.0.0.1")
	if err != nil {
		return err
	}
	ph.OnOffer(func(_ *sip.Request) (int, time.Duration, []string) {
		return 200, s.cfg.RingDelay, []string{"8 PCMA/8000"}
	})
	res, err := ph.Register(ctx, s.cfg.Target, a.Password, 600)
	if err != nil || res.StatusCode != 200 {
		ph.Close()
		return fmt.Errorf("simulate: agent %s could not register: %v %v", a.User, res, err)
	}
	go func() {
		defer ph.Close()
		for {
			in, err := ph.NextIncoming(ctx)
			if err != nil {
				return
			}
			// At least minTalk (a caller must hear the agent to know it
			// was answered), the mean kept: minTalk + exponential.
			talk := minTalk + exp(max(0, s.cfg.Talk-minTalk))
			go func() {
				// One goroutine per answered call: send for the talk time, hang up.
				n := max(1, int(talk/(20*time.Millisecond)))
				for i := 0; i < n && ctx.Err() == nil; i++ {
					select {
					case <-in.Ended():
						return
					default:
					}
					if in.RTP.Send(8, agentFrame, 1) == nil {
						s.sent.Add(1)
					}
				}
				s.count(func(r *Result) { r.Talks = append(r.Talks, time.Duration(n)*20*time.Millisecond) })
				_ = in.Bye(context.Background())
				if s.cfg.WrapupMean > 0 {
					s.readyEarly(ctx, ph, exp(s.cfg.WrapupMean))
				}
			}()
		}
	}()
	return nil
}

// readyEarly ends the agent's wrap-up after w (if that is before sc115
// would end it) by dialing the ready feature code.
func (s *run) readyEarly(ctx context.Context, ph *testphone.Phone, w time.Duration) {
	w = min(w, s.cfg.Wrapup)
	s.count(func(r *Result) { r.Wrapups = append(r.Wrapups, w) })
	if w >= s.cfg.Wrapup {
		return // sc115's own wrap-up ends first
	}
	select {
	case <-time.After(w):
	case <-ctx.Done():
		return
	}
	code := s.cfg.ReadyCode
	if code == "" {
		code = "*44"
	}
	c, err := ph.Dial(ctx, s.cfg.Target, code, []string{"8 PCMA/8000"})
	if err != nil {
		return
	}
	_ = c.Bye(context.Background())
}

// call is one caller: dial, wait for an agent's voice (or give up), talk
// until the agent hangs up.
func (s *run) call(ctx context.Context, ph *testphone.Phone, patience time.Duration) {
	s.count(func(r *Result) { r.Offered++ })
	start := time.Now()
	c, err := ph.Dial(ctx, s.cfg.Target, s.cfg.Dialed, []string{"8 PCMA/8000"})
	if err != nil {
		s.count(func(r *Result) { r.Failed++ })
		return
	}
	answered := time.Now()
	s.count(func(r *Result) { r.Setups = append(r.Setups, answered.Sub(start)) })
	s.waiting.Add(1)
	giveUp := time.Now().Add(patience)
	if patience < 0 || giveUp.Before(answered) {
		giveUp = answered.Add(24 * time.Hour)
	}
	heard, seen := false, 0
	for {
		select {
		case <-c.Ended():
			if !heard {
				s.waiting.Add(-1)
				s.count(func(r *Result) { r.Failed++ })
			}
			return
		case <-ctx.Done():
			_ = c.Bye(context.Background())
			return
		default:
		}
		_ = c.RTP.Send(8, callerFrame, 1) // 20 ms: the caller's side of the stream
		got := c.RTP.Received()
		for _, p := range got[seen:] {
			if string(p.Payload) != string(agentFrame) {
				continue
			}
			if p.Header.PayloadType != 8 {
				s.wrongLaw.Add(1)
			}
			s.received.Add(1)
			if !heard {
				heard = true
				s.waiting.Add(-1)
				w := time.Since(answered)
				s.count(func(r *Result) {
					r.Answered++
					r.Waits = append(r.Waits, w)
					if w <= s.cfg.Threshold {
						r.AnsweredWithin++
					}
				})
			}
		}
		seen = len(got)
		if !heard && time.Now().After(giveUp) {
			s.waiting.Add(-1)
			s.count(func(r *Result) { r.Abandoned++ })
			_ = c.Bye(context.Background())
			return
		}
	}
}

func (s *run) count(f func(*Result)) {
	s.mu.Lock()
	f(&s.res)
	s.mu.Unlock()
}

// progress writes a line a second until stopped.
func (s *run) progress(start time.Time) (stop func()) {
	if s.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
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
		}
	}()
	return func() { close(done); wg.Wait() }
}
