package simulate

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestArrivalsFollowTheRate: thinned from a Poisson process at the top
// rate, arrivals come at the rate RateAt says — 1/s for the first 1,000
// s, none for the next 1,000, 4/s after — counted over 3,000 s of
// simulated time (no clock involved).
func TestArrivalsFollowTheRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	exp := func(mean time.Duration) time.Duration { return time.Duration(rng.ExpFloat64() * float64(mean)) }
	rateAt := func(e time.Duration) float64 {
		switch {
		case e < 1000*time.Second:
			return 1
		case e < 2000*time.Second:
			return 0
		}
		return 4
	}
	start := time.Unix(0, 0)
	next := arrivals(Config{Rate: 4, RateAt: rateAt}, start, exp, rng.Float64)
	var counts [3]int
	for {
		at, r := next()
		e := at.Sub(start)
		if e >= 3000*time.Second {
			break
		}
		if r != rateAt(e) {
			t.Fatalf("arrival at %v reports rate %v, want %v", e, r, rateAt(e))
		}
		counts[int(e/(1000*time.Second))]++
	}
	// Poisson counts: 1,000 ± 3·32 and 4,000 ± 3·63.
	if math.Abs(float64(counts[0])-1000) > 96 || counts[1] != 0 || math.Abs(float64(counts[2])-4000) > 190 {
		t.Errorf("arrivals per 1,000 s: %v, want ~1000, 0, ~4000", counts)
	}
	// Without RateAt: Poisson at Rate, the first call at once.
	plain := arrivals(Config{Rate: 2}, start, exp, rng.Float64)
	if at, r := plain(); !at.Equal(start) || r != 2 {
		t.Errorf("first plain arrival at %v rate %v", at.Sub(start), r)
	}
}
