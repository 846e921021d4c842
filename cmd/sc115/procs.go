package main

import (
	"context"
	"math"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// procsWidth sets how many threads run Go code at once (GOMAXPROCS) to
// what the load needs: one while sc115 is lightly loaded, up to every
// core the process may use as the load grows.
//
// Why: with a second P idle, Go wakes a thread to look for work whenever
// a goroutine becomes runnable — for each SIP message, store reply and
// clock phase — and that thread mostly finds nothing and sleeps again.
// Two context switches for nothing, which on a paravirtualised host cost
// more than the work: at 200 calls/s sc115 spent 2.2 ms CPU a call with
// one P and 3.0 with two (BENCHMARKS.md). But one P is too few
// under an overload (5,000 callers on hold: 310 calls failed with one P,
// none with two), so the width follows the CPU the process uses: wider
// at once when it nears what the Ps can give, narrower only after a quiet
// spell.
type procsWidth struct {
	max int // the widest: GOMAXPROCS as the runtime chose it (cores, cgroup limit)
	// cpu is the process's CPU time so far; set changes the width.
	cpu func() time.Duration
	set func(int)
	log zerolog.Logger

	n        int           // the width now
	quietFor time.Duration // how long the load has allowed one P fewer
}

// Thresholds, in cores per P: widen when the process used more than
// widenAt of the Ps it has over one look (it needs them: the Ps are
// nearly busy, and CPU spent in the kernel's part of system calls adds to
// it), to as many as would be loaded to targetUse; narrow by one when it
// used less than narrowAt per P of the narrower width for narrowAfter
// (after narrowing it runs at most narrowAt/widenAt of that width's
// threshold, so the width does not flap).
const (
	procsLook        = 500 * time.Millisecond
	procsWidenAt     = 0.7
	procsTargetUse   = 0.5
	procsNarrowAt    = 0.4
	procsNarrowAfter = 10 * time.Second
)

// newProcsWidth starts at one P, or returns nil where the width is not
// sc115's to set: GOMAXPROCS given in the environment (the operator's
// choice) or only one P to begin with.
func newProcsWidth(log zerolog.Logger) *procsWidth {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return nil
	}
	widest := runtime.GOMAXPROCS(0)
	if widest < 2 {
		return nil
	}
	w := &procsWidth{max: widest, cpu: processCPU, set: func(n int) { runtime.GOMAXPROCS(n) }, log: log, n: 1}
	w.set(1)
	return w
}

// run looks at the load every procsLook until ctx ends, then gives the
// process all its Ps back (shutdown ends every call at once).
func (w *procsWidth) run(ctx context.Context) {
	t := time.NewTicker(procsLook)
	defer t.Stop()
	last, lastAt := w.cpu(), time.Now()
	for {
		select {
		case <-ctx.Done():
			w.resize(w.max)
			return
		case now := <-t.C:
			cpu := w.cpu()
			used := float64(cpu-last) / float64(now.Sub(lastAt))
			w.resize(w.next(used, now.Sub(lastAt)))
			last, lastAt = cpu, now
		}
	}
}

// next is the width for a look over d in which the process used used
// cores.
func (w *procsWidth) next(used float64, d time.Duration) int {
	if used > procsWidenAt*float64(w.n) && w.n < w.max {
		w.quietFor = 0
		return min(w.max, max(w.n+1, int(math.Ceil(used/procsTargetUse))))
	}
	if w.n > 1 && used < procsNarrowAt*float64(w.n-1) {
		if w.quietFor += d; w.quietFor >= procsNarrowAfter {
			w.quietFor = 0
			return w.n - 1
		}
		return w.n
	}
	w.quietFor = 0
	return w.n
}

// resize sets the width to n if it is not that already.
func (w *procsWidth) resize(n int) {
	if n == w.n {
		return
	}
	w.log.Info().Int("from", w.n).Int("to", n).Msg("go scheduler width (GOMAXPROCS) follows the load")
	w.n = n
	w.set(n)
}

// processCPU is the CPU time of the whole process so far, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
