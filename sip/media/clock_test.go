package media

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
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

// stalledClock runs a clock shard with one stream in fake time for 500 ms,
// the stream's 11th frame (tick 10, due at +220 ms) stalling for stall.
func stalledClock(t *testing.T, stall time.Duration) (r *tickRecorder, start time.Time) {
	t.Helper()
	stop := make(chan struct{})
	shard := newClockShard(newMetrics(nil))
	r = &tickRecorder{slow: map[int]time.Duration{10: stall}}
	shard.add(r)
	start = time.Now()
	go shard.run(stop)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	synctest.Wait()
	for i := 0; i <= 10; i++ { // exactly on the grid until the stall
		if want := start.Add(time.Duration(i+1) * FrameDuration); !r.at[i].Equal(want) {
			t.Fatalf("frame %d at +%v, want +%v", i, r.at[i].Sub(start), want.Sub(start))
		}
		if r.skips[i] != 0 {
			t.Fatalf("frame %d skipped %d", i, r.skips[i])
		}
	}
	return r, start
}

// checkOnGridAfter: from frame i on, every frame is on the 20 ms grid and
// nothing is skipped.
func checkOnGridAfter(t *testing.T, r *tickRecorder, start time.Time, i int) {
	t.Helper()
	for ; i < len(r.at); i++ {
		if off := r.at[i].Sub(start) % FrameDuration; off != 0 {
			t.Errorf("frame %d at +%v: off the 20 ms grid by %v", i, r.at[i].Sub(start), off)
		}
		if r.skips[i] != 0 {
			t.Errorf("frame %d skipped %d after recovering", i, r.skips[i])
		}
	}
}

// framesBefore counts the frames sent before t (the one due as the test
// ends may or may not have gone out).
func framesBefore(r *tickRecorder, t time.Time) int {
	n := 0
	for _, at := range r.at {
		if at.Before(t) {
			n++
		}
	}
	return n
}

// TestClockPacesTo20msAndCatchesUp: frames come exactly every 20 ms against
// absolute deadlines (no drift); when one tick stalls for 70 ms (50 ms
// late: two frames missed) the clock sends the missed frames at once with
// the one due, so the caller loses nothing, and keeps the 20 ms grid.
func TestClockPacesTo20msAndCatchesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, start := stalledClock(t, 70*time.Millisecond)
		r.mu.Lock()
		defer r.mu.Unlock()
		// Frame 12 was due at +240 ms; the stall ended at +290 ms, when
		// frame 14 is due: frames 12, 13 and 14 go out then, none skipped.
		for i := 11; i <= 13; i++ {
			if got := r.at[i].Sub(start); got != 290*time.Millisecond || r.skips[i] != 0 {
				t.Errorf("frame %d at +%v skipping %d, want +290ms skipping 0", i, got, r.skips[i])
			}
		}
		checkOnGridAfter(t, r, start, 14)
		if n := framesBefore(r, start.Add(490*time.Millisecond)); n != 24 { // frames 1–24, at +20 … +480 ms
			t.Errorf("%d frames by +480 ms, want all 24", n)
		}
	})
}

// TestClockSkipsAheadAfterAStall: a tick stalling for 100 ms (80 ms late:
// four frames missed, beyond what a phone's jitter buffer takes in one
// burst) is skipped, not sent: the next frame tells the stream to skip
// four, and the clock is back on the grid.
func TestClockSkipsAheadAfterAStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, start := stalledClock(t, 100*time.Millisecond)
		r.mu.Lock()
		defer r.mu.Unlock()
		if got := r.at[11].Sub(start); got != 320*time.Millisecond || r.skips[11] != 4 {
			t.Errorf("after a 100 ms stall: frame at +%v skipping %d, want +320ms skipping 4", got, r.skips[11])
		}
		checkOnGridAfter(t, r, start, 12)
		if n := framesBefore(r, start.Add(490*time.Millisecond)); n != 20 {
			t.Errorf("%d frames by +480 ms with 4 skipped, want 20", n)
		}
	})
}

// TestClockCatchUpHasABudget: a shard late at every phase (more streams
// than the cores carry) catches up catchUpBudget frames, then skips, and
// earns one catch-up per catchUpEarnEvery phases on time: catching up
// cannot double an overloaded shard's sends.
func TestClockCatchUpHasABudget(t *testing.T) {
	m := newMetrics(nil)
	shard := newClockShard(m)
	r := &tickRecorder{}
	shard.slots[0] = append(shard.slots[0], r)
	for range catchUpBudget + 2 {
		shard.send(0, 1)
	}
	if got := testutil.ToFloat64(m.framesCaughtUp); got != catchUpBudget {
		t.Errorf("%d late phases: %v frames caught up, want the budget, %d", catchUpBudget+2, got, catchUpBudget)
	}
	if got := testutil.ToFloat64(m.framesSkipped); got != 2 {
		t.Errorf("%v frames skipped after the budget was spent, want 2", got)
	}
	for range catchUpEarnEvery {
		shard.send(0, 0)
	}
	shard.send(0, 2) // one frame earned back: one caught up, one skipped
	if got := testutil.ToFloat64(m.framesCaughtUp); got != catchUpBudget+1 {
		t.Errorf("after %d phases on time: %v caught up, want %d", catchUpEarnEvery, got, catchUpBudget+1)
	}
	if got := testutil.ToFloat64(m.framesSkipped); got != 3 {
		t.Errorf("after %d phases on time: %v skipped, want 3", catchUpEarnEvery, got)
	}
	// Per stream: each late phase is one call skipping what is not caught
	// up, then one call per frame caught up.
	var want []int
	for range catchUpBudget {
		want = append(want, 0, 0) // caught up: the due frame, then the missed one
	}
	want = append(want, 1, 1) // skipped
	for range catchUpEarnEvery {
		want = append(want, 0)
	}
	want = append(want, 1, 0)
	if !slices.Equal(r.skips, want) {
		t.Errorf("the stream was told %v, want %v", r.skips, want)
	}
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
	shard.tokens = 0 // no catch-up budget left
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

// TestCaughtUpFramesArriveAsOneStream: a caller on hold whose phase was
// late by two frames hears them, back to back, as the continuation of one
// stream (sequence numbers and timestamps one frame apart, the hold
// music's next frames); once the budget is spent, a late phase skips: one
// packet whose timestamp jumps over the skipped frames, the music moved
// on by as much. Through the shard's send batch, io_uring where the
// kernel allows it.
func TestCaughtUpFramesArriveAsOneStream(t *testing.T) {
	e := testEngine(t)
	caller := newPeer(t)
	s, err := e.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetParams(Params{Remote: caller.addr(), Codec: PCMA, PT: 8})
	hold := e.Prompt("hold.wav")
	s.player.Store(&player{loop: hold}) // driven by the test's shard, not the engine's clock
	shard := newClockShard(e.m)
	b, err := newSendBatch(BatchAuto, e.m, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	shard.batch = b
	shard.slots[0] = []frameSender{s}

	shard.send(0, 0) // on time: hold frame 0
	shard.send(0, 2) // late by two frames: frames 1, 2 and 3 now
	first := caller.recv(t)
	if string(first.Payload) != string(hold.Frame(PCMA, 0)) {
		t.Fatal("first packet is not the hold music's first frame")
	}
	for f := 1; f <= 3; f++ {
		p := caller.recv(t)
		if p.SequenceNumber != first.SequenceNumber+uint16(f) || p.Timestamp != first.Timestamp+uint32(160*f) || p.SSRC != first.SSRC {
			t.Errorf("caught-up frame %d: seq %d ts %d, want seq %d ts %d", f, p.SequenceNumber, p.Timestamp, first.SequenceNumber+uint16(f), first.Timestamp+uint32(160*f))
		}
		if string(p.Payload) != string(hold.Frame(PCMA, f)) {
			t.Errorf("caught-up packet %d is not the hold music's frame %d", f, f)
		}
	}
	shard.tokens = 0
	shard.send(0, 2) // late again, no budget: frames 4 and 5 skipped, 6 sent
	p := caller.recv(t)
	if p.SequenceNumber != first.SequenceNumber+4 || p.Timestamp != first.Timestamp+160*6 {
		t.Errorf("after a skip: seq %d ts %d, want seq %d (no gap) ts %d (two frames skipped)", p.SequenceNumber, p.Timestamp, first.SequenceNumber+4, first.Timestamp+160*6)
	}
	if string(p.Payload) != string(hold.Frame(PCMA, 6)) {
		t.Error("after two skipped frames the packet is not the hold music's frame 6")
	}
	_ = caller.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _ := caller.conn.Read(make([]byte, 1500)); n > 0 {
		t.Error("a packet more than the shard sent")
	}
}
