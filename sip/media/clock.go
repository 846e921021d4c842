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
// deadlines (no per-stream tickers, which drift past ~1,000 streams), derives
// the frame each phase is due from the wall clock, and when it woke late by
// more than a frame skips ahead instead of sending a burst.
type clock struct {
	shards []*clockShard
	next   atomic.Uint64
}

// frameSender is what the clock drives: a session sending its next
// generated frame (skip > 0: the clock woke late and skips that many).
type frameSender interface {
	sendGenerated(skip int, b *sendBatch)
}

// slotRef is where a stream sits in its shard: phase and index in it.
type slotRef struct{ slot, idx int }

type clockShard struct {
	mu    sync.Mutex
	slots [clockSlots][]frameSender
	where map[frameSender]slotRef
	list  []frameSender // reused snapshot, owned by the shard goroutine
	batch *sendBatch    // owned by the shard goroutine
	rt    bool          // run on a real-time thread (media.clock_priority)
	tid   atomic.Int32  // that thread's id while it runs (0: none)
	m     *metrics
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
	return &clockShard{where: map[frameSender]slotRef{}, m: m}
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
// frame is newer than the last it sent, telling it how many it skipped.
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
			skip := int(due - last[k] - 1)
			last[k] = due
			s.m.observeLateness(el - due*FrameDuration)
			s.send(k, skip)
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

// send gives every stream of phase k its frame, outside the lock so that
// adding or removing streams never waits for a phase's sends, and sends
// the phase's frames in one batch.
func (s *clockShard) send(k, skip int) {
	s.mu.Lock()
	s.list = append(s.list[:0], s.slots[k]...)
	s.mu.Unlock()
	if skip > 0 { // every stream of the phase skips them
		s.m.framesSkipped.Add(float64(skip * len(s.list)))
	}
	for _, sess := range s.list {
		sess.sendGenerated(skip, s.batch)
	}
	s.batch.flush()
	clear(s.list) // drop references to closed sessions
}
