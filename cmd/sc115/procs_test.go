package main

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestProcsWidthFollowsTheLoad: the scheduler runs on one P while the load
// is light, widens at once when the process nears what its Ps give — as
// far as the load needs, never past the cores — and narrows one P at a
// time only after a quiet spell, which a single busy look starts over.
func TestProcsWidthFollowsTheLoad(t *testing.T) {
	var widths []int
	w := &procsWidth{max: 2, n: 1, set: func(n int) { widths = append(widths, n) }, log: zerolog.Nop()}
	look := func(used float64, times int) {
		t.Helper()
		for range times {
			w.resize(w.next(used, procsLook))
		}
	}
	look(0.44, 100) // 200 calls/s on one P
	if w.n != 1 || len(widths) != 0 {
		t.Fatalf("light load: width %d (changes %v), want 1 unchanged", w.n, widths)
	}
	look(0.8, 1)
	if w.n != 2 {
		t.Fatalf("0.8 cores on one P: width %d, want 2 at once", w.n)
	}
	look(3.0, 5)
	if w.n != 2 {
		t.Fatalf("width %d on a 2-core machine", w.n)
	}
	look(0.6, 100) // as loaded on two Ps as one P would be nearly full
	if w.n != 2 {
		t.Fatalf("0.6 cores on two Ps: width %d, want 2 kept", w.n)
	}
	quiet := int(procsNarrowAfter / procsLook)
	look(0.3, quiet-1)
	look(0.5, 1) // a busy look starts the quiet spell over
	look(0.3, quiet-1)
	if w.n != 2 {
		t.Fatalf("narrowed after %v of quiet looks broken by a busy one", procsNarrowAfter)
	}
	look(0.3, 1)
	if w.n != 1 {
		t.Fatalf("width %d after %v below %.1f cores, want 1", w.n, procsNarrowAfter, procsNarrowAt)
	}
	if want := []int{2, 1}; len(widths) != 2 || widths[0] != want[0] || widths[1] != want[1] {
		t.Fatalf("widths set %v, want %v", widths, want)
	}

	// A big machine widens as far as the load needs in one step, and
	// narrows one P a quiet spell.
	big := &procsWidth{max: 16, n: 1, set: func(int) {}, log: zerolog.Nop()}
	if n := big.next(3.2, procsLook); n != 7 {
		t.Fatalf("3.2 cores on one of 16 Ps: width %d, want 7 (at half load each)", n)
	}
	big.n = 7
	for range quiet {
		big.resize(big.next(1.0, procsLook))
	}
	if big.n != 6 {
		t.Fatalf("1 core on 7 Ps for %v: width %d, want 6", procsNarrowAfter, big.n)
	}
}

// TestProcsWidthLeftToTheOperator: GOMAXPROCS in the environment is the
// operator's, and a process with one P has nothing to narrow.
func TestProcsWidthLeftToTheOperator(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	if w := newProcsWidth(zerolog.Nop()); w != nil {
		t.Fatal("sc115 sets the width though GOMAXPROCS is in the environment")
	}
}

// TestProcsWidthGivesBackEveryP: when serve stops (shutdown ends every
// call at once) the process gets all its Ps back.
func TestProcsWidthGivesBackEveryP(t *testing.T) {
	var last int
	busy := time.Duration(0)
	w := &procsWidth{max: 2, n: 1, cpu: func() time.Duration { return busy }, set: func(n int) { last = n }, log: zerolog.Nop()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.run(ctx); close(done) }()
	cancel()
	<-done
	if last != 2 {
		t.Fatalf("width set to %d when serve stopped, want 2", last)
	}
}
