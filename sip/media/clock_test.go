package media

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// tickRecorder records when (in the bubble's fake time) the clock asked it
// for a frame and how many frames it was told to skip; slow makes one
// call take that long, as a stalled send would.
type tickRecorder struct {
	mu    sync.Mutex
	at    []time.Time
	skips []int
	slow  map[int]time.Duration
}

func (r *tickRecorder) sendGenerated(skip int, _ *sendBatch) {
	r.mu.Lock()
	n := len(r.at)
	r.at = append(r.at, time.Now())
	r.skips = append(r.skips, skip)
	d := r.slow[n]
	r.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

// TestClockPacesTo20msAndSkipsAhead runs a clock shard in fake time: frames
// come exactly every 20 ms against absolute deadlines (no drift), and when
// one tick stalls for 70 ms the clock skips the frames it missed instead of
// sending a burst, then keeps the original 20 ms grid.
func TestClockPacesTo20msAndSkipsAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMetrics(nil)
		stop := make(chan struct{})
		shard := newClockShard(m)
		r := &tickRecorder{slow: map[int]time.Duration{10: 70 * time.Millisecond}}
		shard.add(r)
		start := time.Now()
		go shard.run(stop)
		time.Sleep(500 * time.Millisecond)
		close(stop)
		synctest.Wait()

		r.mu.Lock()
		defer r.mu.Unlock()
		for i := 0; i <= 10; i++ { // exactly on the grid until the stall
			if want := start.Add(time.Duration(i+1) * FrameDuration); !r.at[i].Equal(want) {
				t.Fatalf("frame %d at +%v, want +%v", i, r.at[i].Sub(start), want.Sub(start))
			}
			if r.skips[i] != 0 {
				t.Fatalf("frame %d skipped %d", i, r.skips[i])
			}
		}
		// Tick 11 was due at +240 ms; the stall ended at +290 ms: 50 ms late,
		// so two frames are skipped and the clock is back on the grid.
		if r.skips[11] != 2 {
			t.Errorf("after a 70 ms stall: skip %d, want 2", r.skips[11])
		}
		for i := 12; i < len(r.at); i++ {
			if off := r.at[i].Sub(start) % FrameDuration; off != 0 {
				t.Errorf("frame %d at +%v: off the 20 ms grid by %v", i, r.at[i].Sub(start), off)
			}
			if r.skips[i] != 0 {
				t.Errorf("frame %d skipped %d after recovering", i, r.skips[i])
			}
		}
		if n := len(r.at); n < 20 || n > 24 {
			t.Errorf("%d frames in 500 ms with 2 skipped, want ~22", n)
		}
	})
}

// TestClockSpreadsStreamsOverPhases: a shard's streams go into its phases
// evenly, phase k sends k·5 ms after phase 0 on the same 20 ms grid, and
// removing a stream leaves every other stream in its phase.
func TestClockSpreadsStreamsOverPhases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shard := newClockShard(newMetrics(nil))
		rs := make([]*tickRecorder, 2*clockSlots)
		for i := range rs {
			rs[i] = &tickRecorder{}
			shard.add(rs[i])
		}
		for k := range clockSlots {
			if n := len(shard.slots[k]); n != 2 {
				t.Fatalf("phase %d has %d streams, want 2", k, n)
			}
		}
		shard.remove(rs[0]) // phase 0 keeps rs[clockSlots] only
		stop := make(chan struct{})
		start := time.Now()
		go shard.run(stop)
		time.Sleep(100 * time.Millisecond)
		close(stop)
		synctest.Wait()
		if len(rs[0].at) != 0 {
			t.Fatalf("a removed stream got %d frames", len(rs[0].at))
		}
		for i, r := range rs[1:] {
			k := shard.where[r].slot
			if k != (i+1)%clockSlots {
				t.Errorf("stream %d moved to phase %d", i+1, k)
			}
			for f, at := range r.at {
				want := start.Add(time.Duration(k)*slotDur + time.Duration(f+1)*FrameDuration)
				if !at.Equal(want) {
					t.Fatalf("stream %d (phase %d) frame %d at +%v, want +%v", i+1, k, f, at.Sub(start), want.Sub(start))
				}
			}
			if n := len(r.at); n < 4 || n > 5 {
				t.Errorf("stream %d: %d frames in 100 ms", i+1, n)
			}
		}
	})
}

// TestSkippedFramesCountEveryStream: a late phase skips frames of every
// stream in it, and the metric counts them all (a phase of 625 hold
// streams that skips one frame loses 625 frames, not one).
func TestSkippedFramesCountEveryStream(t *testing.T) {
	m := newMetrics(nil)
	shard := newClockShard(m)
	var rs []*tickRecorder
	for range 3 {
		r := &tickRecorder{}
		rs = append(rs, r)
		shard.slots[0] = append(shard.slots[0], r)
	}
	shard.send(0, 2)
	if got := testutil.ToFloat64(m.framesSkipped); got != 6 {
		t.Errorf("3 streams skipping 2 frames each: %v counted, want 6", got)
	}
	for i, r := range rs {
		if len(r.skips) != 1 || r.skips[0] != 2 {
			t.Errorf("stream %d was told %v, want one frame skipping 2", i, r.skips)
		}
	}
}
