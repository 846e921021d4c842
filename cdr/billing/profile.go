package billing

import "time"

// Profile says how a week's calls spread over its half hours: Share[d][s]
// is the share of the week's calls in half hour s (0 = 00:00–00:30) of
// weekday d (time.Sunday = 0); the shares add up to 1.
type Profile struct {
	Name  string
	Share [7][48]float64
}

// Profile115 is the intraday profile sc115 ships for 115 service centers
// when no CDR history is given: the 115 service hours Monday to Friday
// 08:00–18:00, the week front-loaded (Monday 24 %, Tuesday 21 %, Wednesday
// 19 %, Thursday 20 % — Thursday is the long day of many Bürgerämter —,
// Friday 16 %), each day peaking 09:00–11:00 with a second, smaller hill
// 13:30–15:00. These are assumptions in the shape the 115 reports and
// public-sector contact centers describe, not measurements: measure your
// own with --from-cdrs as soon as there are CDRs.
func Profile115() Profile {
	days := map[time.Weekday]float64{time.Monday: 0.24, time.Tuesday: 0.21, time.Wednesday: 0.19, time.Thursday: 0.20, time.Friday: 0.16}
	// Relative weights of the 20 half hours 08:00–18:00.
	w := []float64{5, 7, 9, 9, 9, 8, 6, 5, 5, 6, 7, 7, 6, 5, 4, 4, 3, 3, 2, 2}
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	p := Profile{Name: "115 (Mon–Fri 08–18, Monday-morning peak; assumed)"}
	for d, share := range days {
		for i, x := range w {
			p.Share[d][16+i] = share * x / sum
		}
	}
	return p
}

// ProfileRate turns a profile into an arrival rate over a run: weeklyCalls
// spread as p says, the run beginning offset into the week (from Sunday
// 00:00) and going speedup times as fast. It returns the rate (calls per
// real second) at a time into the run, and its maximum.
func ProfileRate(p Profile, weeklyCalls float64, offset time.Duration, speedup float64) (func(time.Duration) float64, float64) {
	top := 0.0
	for d := range p.Share {
		for _, x := range p.Share[d] {
			top = max(top, x)
		}
	}
	perSec := func(share float64) float64 { return weeklyCalls * share / 1800 * speedup }
	return func(e time.Duration) float64 {
		at := (offset + time.Duration(float64(e)*speedup)) % (7 * 24 * time.Hour)
		return perSec(p.Share[int(at/(24*time.Hour))][int(at%(24*time.Hour)/(30*time.Minute))])
	}, perSec(top)
}
