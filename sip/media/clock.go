package media

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// clock paces generated audio. Streams are spread over one shard per CPU;
// each shard sleeps to absolute 20 ms deadlines (no per-stream tickers, which
// drift past ~1,000 streams) and, when it wakes late by more than a frame,
// skips ahead instead of sending a burst.
type clock struct {
	shards []*clockShard
	next   atomic.Uint64
	m      *metrics
}

// frameSender is what the clock drives: a session sending its next
// generated frame (skip > 0: the clock woke late and skips that many).
type frameSender interface {
	sendGenerated(skip int)
}

type clockShard struct {
	mu       sync.Mutex
	sessions map[frameSender]struct{}
	list     []frameSender // reused snapshot, owned by the shard goroutine
	m        *metrics
}

func newClock(m *metrics, stop <-chan struct{}) *clock {
	n := runtime.GOMAXPROCS(0)
	c := &clock{m: m}
	for i := 0; i < n; i++ {
		s := &clockShard{sessions: map[frameSender]struct{}{}, m: m}
		c.shards = append(c.shards, s)
		go s.run(stop)
	}
	return c
}

func (c *clock) pick() *clockShard {
	return c.shards[c.next.Add(1)%uint64(len(c.shards))]
}

func (s *clockShard) add(sess frameSender) {
	s.mu.Lock()
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
}

func (s *clockShard) remove(sess frameSender) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

func (s *clockShard) run(stop <-chan struct{}) {
	start := time.Now()
	tick := int64(0)
	timer := time.NewTimer(FrameDuration)
	defer timer.Stop()
	for {
		tick++
		deadline := start.Add(time.Duration(tick) * FrameDuration)
		timer.Reset(time.Until(deadline))
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		late := time.Since(deadline)
		skip := 0
		if late > FrameDuration {
			skip = int(late / FrameDuration)
			tick += int64(skip)
			s.m.framesSkipped.Add(float64(skip))
		}
		s.m.observeLateness(late)
		s.mu.Lock()
		s.list = s.list[:0]
		for sess := range s.sessions {
			s.list = append(s.list, sess)
		}
		s.mu.Unlock()
		for _, sess := range s.list {
			sess.sendGenerated(skip)
		}
	}
}
