package billing

import (
	"fmt"
	"sort"
	"time"
)

// Member is a municipality of the center as staffing sees it.
type Member struct {
	Key, Name  string
	Population int
	// CallsPerYear: measured, or population × calls per resident.
	CallsPerYear int64
}

// Assumptions are the inputs of a staffing report besides the members.
type Assumptions struct {
	Profile   Profile
	AHT       time.Duration // talk + wrap-up per call
	Target    float64       // 0.75
	Threshold time.Duration // 30 s
	// Patience is callers' mean patience: known, Erlang A staffs; 0,
	// Erlang C.
	Patience time.Duration
	Staffing StaffingConfig
	// Skills are the calls per skill (queue), each staffed on its own as
	// well: the agents a skill needs if only its own agents took its
	// calls. (None: no per-skill figures.)
	Skills []Group
}

// Group is a share of the center's calls staffed on its own: a skill.
type Group struct {
	Name         string
	CallsPerYear int64
}

// GroupStaffing is a group with the staff it needs on its own.
type GroupStaffing struct {
	Group
	Staffing
}

// ModelResult is one tariff's revenue from all members and the balance
// against the staff cost.
type ModelResult struct {
	Tariff       string
	Model        string
	RevenueCents int64
	BalanceCents int64 // revenue − cost
}

// StaffReport is what the center needs and what each financing model
// brings in.
type StaffReport struct {
	Members     []Member
	Assumptions Assumptions
	Staffing    Staffing
	Models      []ModelResult
	// BillableMinutes per year (talk + wrap-up per started minute, the
	// default tariff's increment) and the price per minute that covers
	// the cost exactly (the memo's "kostenneutrale Lösung"), rounded up
	// to the cent.
	BillableMinutes     int64
	CostNeutralPerMinCt int64
	// Alone is each member staffed on its own (agents for it only), next
	// to the pool: what the center saves by pooling.
	Alone []Staffing
	// Skills is each of Assumptions.Skills staffed on its own.
	Skills []GroupStaffing
}

// Report staffs the members' calls together (one pool of agents, as the
// center works) and prices them under every tariff of cfg.
func Report(members []Member, as Assumptions, cfg BillingConfig) StaffReport {
	var calls int64
	for _, m := range members {
		calls += m.CallsPerYear
	}
	r := StaffReport{Members: members, Assumptions: as}
	staff := func(calls int64) Staffing {
		d := DemandFrom(as.Profile, float64(calls)/52, as.AHT)
		d.Patience = as.Patience
		return Staff(d, as.Target, as.Threshold, as.Staffing)
	}
	r.Staffing = staff(calls)
	if len(members) > 1 {
		for _, m := range members {
			r.Alone = append(r.Alone, staff(m.CallsPerYear))
		}
	}
	for _, g := range as.Skills {
		r.Skills = append(r.Skills, GroupStaffing{Group: g, Staffing: staff(g.CallsPerYear)})
	}
	ahtS := int64(as.AHT / time.Second)
	byTariff := map[string]*ModelResult{}
	var names []string
	for _, m := range members {
		for _, e := range EstimateAll(cfg, m.Population, m.CallsPerYear, ahtS) {
			mr := byTariff[e.TariffName]
			if mr == nil {
				mr = &ModelResult{Tariff: e.TariffName, Model: e.Tariff.Model}
				byTariff[e.TariffName] = mr
				names = append(names, e.TariffName)
			}
			mr.RevenueCents += e.TotalCents
		}
	}
	for _, n := range names {
		mr := byTariff[n]
		mr.BalanceCents = mr.RevenueCents - r.Staffing.YearCostCent
		r.Models = append(r.Models, *mr)
	}
	perCallSecs := ahtS
	if t, ok := cfg.Tariffs[cfg.DefaultTariff]; ok {
		perCallSecs = t.BillableSeconds(ahtS*1000, 0, 0, 0)
	} else {
		perCallSecs = (ahtS + 59) / 60 * 60 // every started minute
	}
	r.BillableMinutes = calls * perCallSecs / 60
	if r.BillableMinutes > 0 {
		r.CostNeutralPerMinCt = (r.Staffing.YearCostCent + r.BillableMinutes - 1) / r.BillableMinutes
	}
	return r
}

// Marginal is what one more member changes: the report with it against
// the one without.
type Marginal struct {
	Member          Member
	Without, With   StaffReport
	CostCents       int64   // the added yearly staff cost
	FTE             float64 // the added full-time equivalents
	BillableMinutes int64
	// PerMinuteCents covers the added cost with the added minutes alone,
	// rounded up; the With report's CostNeutralPerMinCt covers all.
	PerMinuteCents int64
}

// AddMember reports the marginal cost of m joining.
func AddMember(members []Member, m Member, as Assumptions, cfg BillingConfig) Marginal {
	without := Report(members, as, cfg)
	with := Report(append(append([]Member(nil), members...), m), as, cfg)
	mg := Marginal{Member: m, Without: without, With: with, CostCents: with.Staffing.YearCostCent - without.Staffing.YearCostCent,
		FTE: with.Staffing.FTE - without.Staffing.FTE, BillableMinutes: with.BillableMinutes - without.BillableMinutes}
	if mg.BillableMinutes > 0 {
		mg.PerMinuteCents = (mg.CostCents + mg.BillableMinutes - 1) / mg.BillableMinutes
	}
	return mg
}

// DayPeak is a weekday's busiest half hour and its agent hours.
type DayPeak struct {
	Day        time.Weekday
	Calls      float64
	PeakAgents int
	PeakSlot   int
	AgentHours float64
}

// Days sums the staffing per weekday, Monday first, days without calls left out.
func (s Staffing) Days() []DayPeak {
	by := map[time.Weekday]*DayPeak{}
	var order []time.Weekday
	for _, iv := range s.Intervals {
		d := by[iv.Day]
		if d == nil {
			d = &DayPeak{Day: iv.Day}
			by[iv.Day] = d
			order = append(order, iv.Day)
		}
		d.Calls += iv.Calls
		d.AgentHours += float64(iv.Agents) / 2
		if iv.Agents > d.PeakAgents {
			d.PeakAgents, d.PeakSlot = iv.Agents, iv.Slot
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return (order[i]+6)%7 < (order[j]+6)%7 })
	out := make([]DayPeak, 0, len(order))
	for _, d := range order {
		out = append(out, *by[d])
	}
	return out
}

// SlotTime is a half hour's start, "08:30".
func SlotTime(slot int) string { return fmt.Sprintf("%02d:%02d", slot/2, 30*(slot%2)) }
