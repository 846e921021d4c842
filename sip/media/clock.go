package media

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// clockSlots divides each 20 ms frame into phases: a shard sends a quarter
// of its streams every 5 ms instead of all of them at once, so 5,000 hold
// streams are not one burst of sendto calls that delays the last of them by
// the whole burst (and the receivers see an even load).
const clockSlots = 4

// slotDur is the time between two phases of a shard.
const slotDur = FrameDuration / clockSlots

// clock paces generated audio. Streams are spread over one shard per CPU
// and, within a shard, over clockSlots phases. Each shard sleeps to absolute
// deadlines (no per-stream tickers, which drift past ~1,000 streams) and
// derives the frame each phase is due from the wall clock. When it woke
// late by more than a frame it sends the frames it missed at once, as long
// as they fit a phone's jitter buffer (catchUpMax) and the shard is not
// persistently late (catchUpBudget); otherwise it skips ahead.
type clock struct {
	shards []*clockShard
	next   atomic.Uint64
}

// frameSender is what the clock drives: a session sending its next
// generated frame (skip > 0: the clock woke late and skips that many).
type frameSender interface {
	sendGenerated(skip int, b *sendBatch)
}

// catchUpMax is the most frames a late phase sends at once on top of the
// one due: a stall of up to 60 ms is sent as a burst the phone's jitter
// buffer (typically 40–60 ms on a desk phone, adaptive on a softphone)
// absorbs, so the caller hears no gap. A longer stall is skipped: a burst
// beyond the buffer would be dropped by the phone anyway, and would only
// delay the audio after it.
const catchUpMax = 2

// Catch-up budget: each frame a phase sends late costs one token, each
// phase sent on time earns 1/catchUpEarnEvery of one, up to
// catchUpBudget: enough for one stall of catchUpMax frames in every phase
// of the shard (a late wake makes all its phases late at once). A
// scheduling hiccup now and then is caught up in full; a shard late all
// the time (more streams than the cores carry) spends at most a tenth
// more sends on catching up and otherwise skips, so catching up cannot
// feed an overload.
const (
	catchUpBudget    = clockSlots * catchUpMax
	catchUpEarnEvery = 10
)

// slotRef is where a stream sits in its shard: phase and index in it.
type slotRef struct{ slot, idx int }

type clockShard struct {
	mu    sync.Mutex
	slots [clockSlots][]frameSender
	where map[frameSender]slotRef
	list  []frameSender // reused snapshot, owned by the shard goroutine
	batch *sendBatch    // owned by the shard goroutine
	rt    bool          // run on a real-time thread (media.clock_priority)
	// tokens is the catch-up budget in tenths of a frame (owned by the
	// shard goroutine): catchUpEarnEvery per late frame sent.
	tokens int
	tid    atomic.Int32 // that thread's id while it runs (0: none)
	m      *metrics
}

// newClock starts one shard per CPU, each with its own send batch as
// batching (media.send_batching) asks, on real-time threads as priority
// (media.clock_priority) asks.
func newClock(m *metrics, batching, priority string, log zerolog.Logger, stop <-chan struct{}) (*clock, error) {
	rt := false
	if priority != PriorityOff {
		err := probeRealtime()
		switch {
		case err == nil:
			rt = true
		case priority == PriorityOn:
			return nil, fmt.Errorf("media.clock_priority is on: %w", err)
		default:
			log.Info().Err(err).Msg("media: the media clock runs at normal priority")
		}
	}
	n := runtime.GOMAXPROCS(0)
	c := &clock{}
	for i := 0; i < n; i++ {
		b, err := newSendBatch(batching, m, log)
		if err != nil {
			for _, s := range c.shards {
				s.batch.close()
			}
			return nil, err
		}
		s := newClockShard(m)
		s.batch, s.rt = b, rt
		c.shards = append(c.shards, s)
	}
	for _, s := range c.shards {
		go s.run(stop)
	}
	return c, nil
}

// probeRealtime asks for real-time priority once and gives it back.
func probeRealtime() error {
	release, err := rtThread()
	if err == nil {
		release()
	}
	return err
}

// batched says whether the shards send each phase in one submission.
func (c *clock) batched() bool { return c.shards[0].batch.ring != nil }

func newClockShard(m *metrics) *clockShard {
	return &clockShard{where: map[frameSender]slotRef{}, m: m, tokens: catchUpBudget * catchUpEarnEvery}
}

func (c *clock) pick() *clockShard {
	return c.shards[c.next.Add(1)%uint64(len(c.shards))]
}

// add puts a stream into the shard's least loaded phase. Its place in the
// phase stays fixed while it plays (a stream's send time within the phase
// must not wander from frame to frame: that would be jitter).
func (s *clockShard) add(sess frameSender) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.where[sess]; ok {
		return
	}
	best := 0
	for k := 1; k < clockSlots; k++ {
		if len(s.slots[k]) < len(s.slots[best]) {
			best = k
		}
	}
	s.where[sess] = slotRef{best, len(s.slots[best])}
	s.slots[best] = append(s.slots[best], sess)
}

// remove takes a stream out; the phase's last stream moves into its place.
func (s *clockShard) remove(sess frameSender) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.where[sess]
	if !ok {
		return
	}
	delete(s.where, sess)
	list := s.slots[ref.slot]
	last := len(list) - 1
	if ref.idx != last {
		list[ref.idx] = list[last]
		s.where[list[ref.idx]] = ref
	}
	list[last] = nil
	s.slots[ref.slot] = list[:last]
}

// run serves the shard's phases until stop. Phase k's frame f is due at
// start + k·slotDur + f·20 ms (f ≥ 1); every wake sends each phase whose due
// frame is newer than the last it sent, with the frames it missed.
func (s *clockShard) run(stop <-chan struct{}) {
	var sleeper monoSleeper
	if s.rt {
		release, err := rtThread()
		if err != nil {
			s.rt = false // refused now though the probe passed: Go timers
		} else {
			s.tid.Store(int32(unix.Gettid()))
			defer release()
			defer s.tid.Store(0)
		}
		sleeper = newMonoSleeper()
	}
	start := time.Now()
	var last [clockSlots]time.Duration // per phase: frame index sent last
	timer := time.NewTimer(slotDur)
	defer timer.Stop()
	defer s.batch.close()
	for {
		for k := 0; k < clockSlots; k++ {
			el := time.Since(start) - time.Duration(k)*slotDur
			due := el / FrameDuration
			if due <= last[k] {
				continue
			}
			missed := int(due - last[k] - 1)
			last[k] = due
			s.m.observeLateness(el - due*FrameDuration)
			s.send(k, missed)
		}
		// Sleep until the earliest next deadline of any phase.
		next := time.Duration(1<<62 - 1)
		for k := 0; k < clockSlots; k++ {
			next = min(next, time.Duration(k)*slotDur+(last[k]+1)*FrameDuration)
		}
		if s.rt {
			sleeper.until(next)
			select {
			case <-stop:
				return
			default:
			}
			continue
		}
		timer.Reset(next - time.Since(start))
		select {
		case <-stop:
			return
		case <-timer.C:
		}
	}
}

// catchUp says how many of the missed frames a phase sends now (the rest
// it skips), and spends the budget for them.
func (s *clockShard) catchUp(missed int) int {
	if missed == 0 {
		s.tokens = min(s.tokens+1, catchUpBudget*catchUpEarnEvery)
		return 0
	}
	if missed > catchUpMax {
		return 0 // a stall: skip ahead
	}
	n := min(missed, s.tokens/catchUpEarnEvery)
	s.tokens -= n * catchUpEarnEvery
	return n
}

// send gives every stream of phase k its frame (and the missed frames it
// catches up), outside the lock so that adding or removing streams never
// waits for a phase's sends, and sends the phase's frames in one batch.
// A stream skipping frames skips first: the frames it then sends are the
// newest, ending on the grid's timestamp.
func (s *clockShard) send(k, missed int) {
	s.mu.Lock()
	s.list = append(s.list[:0], s.slots[k]...)
	s.mu.Unlock()
	late := s.catchUp(missed)
	skip := missed - late
	if skip > 0 { // every stream of the phase skips them
		s.m.framesSkipped.Add(float64(skip * len(s.list)))
	}
	if late > 0 {
		s.m.framesCaughtUp.Add(float64(late * len(s.list)))
	}
	for _, sess := range s.list {
		sess.sendGenerated(skip, s.batch)
		for range late {
			sess.sendGenerated(0, s.batch)
		}
	}
	s.batch.flush()
	clear(s.list) // drop references to closed sessions
}
