package media

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// threadPolicy is a thread's scheduling policy (field 41 of
// /proc/self/task/TID/stat; 1 is SCHED_FIFO), -1 once it has ended.
func threadPolicy(tid int32) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return -1
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	fs := strings.Fields(rest) // fs[0] is field 3
	if len(fs) < 39 {
		return -1
	}
	p, _ := strconv.Atoi(fs[38])
	return p
}

// TestClockRunsOnRealtimeThreads: with media.clock_priority on, each clock
// shard has a SCHED_FIFO thread of its own while the engine runs, paces
// hold audio as before, and none is left once the engine is closed.
func TestClockRunsOnRealtimeThreads(t *testing.T) {
	cfg := Defaults()
	cfg.PromptsDir = "../../prompts/de"
	cfg.RTPPorts = "41000-41999"
	cfg.ClockPriority = PriorityOn
	e, err := NewEngine(cfg, "127.0.0.1", nil, zerolog.Nop())
	if errors.Is(err, errNoRealtime) {
		if os.Getenv("SC115_INTEROP") == "required" {
			t.Fatalf("%v, and SC115_INTEROP=required (CI runs as root)", err)
		}
		t.Skipf("%v; set SC115_INTEROP=required to make this a failure", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var tids []int32
	for _, sh := range e.clock.shards {
		for deadline := time.Now().Add(20 * time.Second); sh.tid.Load() == 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				e.Close()
				t.Fatal("a clock shard has no real-time thread")
			}
		}
		tid := sh.tid.Load()
		if p := threadPolicy(tid); p != 1 {
			t.Errorf("clock thread %d: policy %d, want SCHED_FIFO (1)", tid, p)
		}
		tids = append(tids, tid)
	}
	if len(tids) != runtime.GOMAXPROCS(0) {
		t.Errorf("%d clock threads, want one per CPU", len(tids))
	}
	s, err := e.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t)
	s.SetParams(Params{Remote: p.addr(), Codec: PCMU, PT: 0})
	s.Play(nil, e.Prompt("hold.wav"))
	first := p.recv(t)
	for range 10 {
		if pkt := p.recv(t); pkt.SSRC != first.SSRC || pkt.PayloadType != 0 {
			t.Fatalf("hold stream from the real-time clock: %+v after %+v", pkt.Header, first.Header)
		}
	}
	s.Close()
	e.Close()
	// The threads go back to Go's pool as normal threads (or end).
	for _, tid := range tids {
		for deadline := time.Now().Add(20 * time.Second); threadPolicy(tid) == 1; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("clock thread %d still real-time after Close", tid)
			}
		}
	}
}
