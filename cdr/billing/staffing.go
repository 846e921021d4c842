package billing

import (
	"math"
	"time"
)

// Staffing (issue 17): how many agents a service center needs for its
// service-level promise, and so what it costs, next to what each
// financing model would bring in. Offered calls per half hour come from a
// profile (shipped or measured) times the week's calls; each half hour is
// staffed by Erlang C for the target; then shrinkage (breaks, training,
// sickness, meetings) turns agents on the phone into paid full-time
// equivalents, and hours into cents.

// StaffingConfig is billing.staffing: what an agent hour costs and how
// much of paid time is on the phone.
type StaffingConfig struct {
	// HourlyCostCents is the full cost of a paid agent hour (salary,
	// employer's share, workplace, overhead), e.g. 4800 for 48.00 €.
	HourlyCostCents int64 `yaml:"hourly_cost_cents"`
	// ShrinkagePercent of paid time off the phone (default 30: breaks,
	// training, sickness, leave, meetings).
	ShrinkagePercent int64 `yaml:"shrinkage_percent"`
	// WeeklyHours of one full-time agent (default 39, TVöD).
	WeeklyHours float64 `yaml:"weekly_hours"`
}

// Defaults fills unset values.
func (s *StaffingConfig) Defaults() {
	if s.ShrinkagePercent == 0 {
		s.ShrinkagePercent = 30
	}
	if s.WeeklyHours == 0 {
		s.WeeklyHours = 39
	}
}

// Demand is the traffic to staff: calls per half hour of the week (by
// weekday and slot) and the handling time (talk + wrap-up) per call.
type Demand struct {
	Calls [7][48]float64
	AHT   time.Duration
	// Patience is callers' mean patience (0: unknown — Erlang C, callers
	// who never hang up).
	Patience time.Duration
}

// DemandFrom spreads a week's calls over a profile.
func DemandFrom(p Profile, weeklyCalls float64, aht time.Duration) Demand {
	d := Demand{AHT: aht}
	for day := range p.Share {
		for s := range p.Share[day] {
			d.Calls[day][s] = weeklyCalls * p.Share[day][s]
		}
	}
	return d
}

// Interval is one staffed half hour.
type Interval struct {
	Day       time.Weekday
	Slot      int // 0 = 00:00–00:30
	Calls     float64
	Erlangs   float64
	Agents    int     // on the phone, for the target
	Level     float64 // the service level they give
	Occupancy float64
	Abandon   float64 // callers who hang up first (Erlang A; 0 with Erlang C)
}

// Staffing is a week staffed for a target.
type Staffing struct {
	Intervals    []Interval // half hours with calls, in week order from Monday
	AgentHours   float64    // on the phone per week
	PaidHours    float64    // … plus shrinkage
	FTE          float64
	YearCostCent int64 // paid hours × 52 weeks × the hourly cost
	WeeklyCalls  float64
}

// Staff staffs every half hour of the week with Erlang C for target
// (0.75) within threshold (30 s) — or with Erlang A when the callers'
// mean patience is known (d.Patience > 0).
func Staff(d Demand, target float64, threshold time.Duration, cfg StaffingConfig) Staffing {
	cfg.Defaults()
	var st Staffing
	for i := 0; i < 7; i++ {
		day := time.Weekday((i + 1) % 7) // Monday first
		for s := 0; s < 48; s++ {
			calls := d.Calls[day][s]
			if calls <= 0 {
				continue
			}
			st.WeeklyCalls += calls
			a := calls * d.AHT.Seconds() / 1800
			iv := Interval{Day: day, Slot: s, Calls: calls, Erlangs: a}
			if d.Patience > 0 {
				iv.Agents = AgentsForA(calls/1800, d.AHT, d.Patience, threshold, target)
				m := ErlangAModel(calls/1800, d.AHT, d.Patience, iv.Agents, threshold)
				iv.Level, iv.Occupancy, iv.Abandon = m.WithinT, m.Occupancy, m.Abandon
			} else {
				iv.Agents = AgentsFor(a, d.AHT, threshold, target)
				iv.Level, iv.Occupancy = ServiceLevel(a, iv.Agents, d.AHT, threshold), a/float64(iv.Agents)
			}
			n := iv.Agents
			st.Intervals = append(st.Intervals, iv)
			st.AgentHours += float64(n) / 2
		}
	}
	st.PaidHours = st.AgentHours * 100 / float64(100-cfg.ShrinkagePercent)
	st.FTE = st.PaidHours / cfg.WeeklyHours
	// Money in integers: half hours on the phone × the hourly cost × 52
	// weeks, grossed up by shrinkage, rounded once to the cent.
	halfHours := int64(math.Round(st.AgentHours * 2))
	num := halfHours * cfg.HourlyCostCents * 52 * 100
	den := 2 * (100 - cfg.ShrinkagePercent)
	st.YearCostCent = (num + den/2) / den
	return st
}
