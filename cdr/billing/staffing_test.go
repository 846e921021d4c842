package billing

import (
	"bytes"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
)

// TestStaffAWeek: a synthetic week — the published Erlang C example's
// traffic (360 calls in a half hour, 4 min each) on Monday 09:00 and
// nothing else — is staffed with its 55 agents for 80/15; with 30 %
// shrinkage, 39 h per FTE and 48.00 € per paid hour the year costs
// 55 half hours × 24.00 € ÷ 0.7 × 52 = 98,057.14 €, to the cent.
func TestStaffAWeek(t *testing.T) {
	var d Demand
	d.AHT = 4 * time.Minute
	d.Calls[time.Monday][18] = 360
	st := Staff(d, 0.80, 15*time.Second, StaffingConfig{HourlyCostCents: 4800})
	if len(st.Intervals) != 1 || st.Intervals[0].Agents != 55 || math.Abs(st.Intervals[0].Erlangs-48) > 1e-9 {
		t.Fatalf("intervals %+v, want one of 48 Erlangs staffed with 55", st.Intervals)
	}
	if iv := st.Intervals[0]; math.Abs(iv.Level-0.8459) > 0.0001 || math.Abs(iv.Occupancy-48.0/55) > 1e-9 {
		t.Errorf("level %.4f occupancy %.4f", iv.Level, iv.Occupancy)
	}
	if st.AgentHours != 27.5 || math.Abs(st.PaidHours-27.5/0.7) > 1e-9 || math.Abs(st.FTE-27.5/0.7/39) > 1e-9 {
		t.Errorf("hours %.2f paid %.4f FTE %.4f", st.AgentHours, st.PaidHours, st.FTE)
	}
	if st.YearCostCent != 9805714 {
		t.Errorf("cost %d cents, want 9805714 (98,057.14 €)", st.YearCostCent)
	}
}

// TestProfile115: the shipped profile covers Mon–Fri 08:00–18:00 only,
// adds up to one week, and Monday 09:00–11:00 is the busiest.
func TestProfile115(t *testing.T) {
	p := Profile115()
	sum, busiest, at := 0.0, 0.0, [2]int{}
	for d := range p.Share {
		for s, x := range p.Share[d] {
			if x > 0 && (d == int(time.Saturday) || d == int(time.Sunday) || s < 16 || s >= 36) {
				t.Errorf("calls on day %d at %s", d, SlotTime(s))
			}
			sum += x
			if x > busiest {
				busiest, at = x, [2]int{d, s}
			}
		}
	}
	if math.Abs(sum-1) > 1e-9 || at[0] != int(time.Monday) || at[1] < 18 || at[1] >= 22 {
		t.Errorf("sum %v, busiest day %d at %s", sum, at[0], SlotTime(at[1]))
	}
}

// TestReportAndMarginal: the revenue of every tariff is the sum of the
// members' estimates to the cent, the balance is revenue − cost, the
// cost-neutral price covers the cost, and a member joining adds what the
// two reports differ by.
func TestReportAndMarginal(t *testing.T) {
	cfg := BillingConfig{DefaultTariff: "std", Tariffs: map[string]Tariff{
		"std": {Model: "per_minute", PerMinuteCents: 150, Increment: "60/60", Components: []string{"talk", "wrapup"}, Rounding: "per_call"},
	}}
	if err := cfg.Validate(nil); err != nil {
		t.Fatal(err)
	}
	members := []Member{{Key: "a", Name: "A", Population: 500000, CallsPerYear: 150000}, {Key: "b", Name: "B", Population: 30000, CallsPerYear: 9000}}
	as := Assumptions{Profile: Profile115(), AHT: 4 * time.Minute, Target: 0.75, Threshold: 30 * time.Second, Staffing: StaffingConfig{HourlyCostCents: 3500}}
	r := Report(members, as, cfg)
	if len(r.Models) != 1 || r.Models[0].RevenueCents != 159000*4*150 {
		t.Fatalf("models %+v, want 159,000 calls × 4 started minutes × 1.50 €", r.Models)
	}
	if r.Models[0].BalanceCents != r.Models[0].RevenueCents-r.Staffing.YearCostCent || r.BillableMinutes != 159000*4 {
		t.Errorf("balance %d, minutes %d", r.Models[0].BalanceCents, r.BillableMinutes)
	}
	if p := r.CostNeutralPerMinCt; p*r.BillableMinutes < r.Staffing.YearCostCent || (p-1)*r.BillableMinutes >= r.Staffing.YearCostCent {
		t.Errorf("cost-neutral %d cents/min does not just cover %d cents", p, r.Staffing.YearCostCent)
	}
	// Pooled, the center needs fewer agents than the members would alone.
	if len(r.Alone) != 2 || r.Alone[0].YearCostCent+r.Alone[1].YearCostCent <= r.Staffing.YearCostCent ||
		r.Alone[0].FTE >= r.Staffing.FTE {
		t.Errorf("alone %+v vs pooled FTE %.1f cost %d", r.Alone, r.Staffing.FTE, r.Staffing.YearCostCent)
	}
	mg := AddMember(members, Member{Key: "c", Name: "C", Population: 24000, CallsPerYear: 7200}, as, cfg)
	if mg.CostCents != mg.With.Staffing.YearCostCent-r.Staffing.YearCostCent || mg.BillableMinutes != 7200*4 || mg.CostCents <= 0 {
		t.Errorf("marginal %+v", mg)
	}
	// Pooling: the added cost per added minute is below the center's average.
	if mg.PerMinuteCents >= r.CostNeutralPerMinCt {
		t.Errorf("a small member's marginal price %d ≥ the average %d: no pooling effect?", mg.PerMinuteCents, r.CostNeutralPerMinCt)
	}
}

// TestMeasureHistory: demand from CDRs — the refused and self-served
// calls do not count, the handling time is the answered calls' mean talk
// + wrap-up, a week of rows is scaled to 52; per skill, the queue the call
// waited in (a menu's choice), else the municipality's key.
func TestMeasureHistory(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	mon := time.Date(2026, 11, 23, 9, 10, 0, 0, berlin)
	recs := []cdr.Record{
		{Municipality: "a", Queue: "wohngeld", ArrivedAt: mon, Disposition: cdr.Answered, TalkMS: 200000, WrapupMS: 40000, WaitMS: 10000},
		{Municipality: "a", Queue: "a", ArrivedAt: mon.Add(5 * time.Minute), Disposition: cdr.Abandoned, WaitMS: 50000},
		{Municipality: "b", ArrivedAt: mon.Add(7*24*time.Hour - time.Hour), Disposition: cdr.Answered, TalkMS: 100000, WrapupMS: 20000},
		{Municipality: "a", ArrivedAt: mon, Disposition: cdr.RejectedClosed},
		{Municipality: "a", ArrivedAt: mon, Disposition: cdr.SelfService},
	}
	h, err := MeasureHistory(recs)
	if err != nil {
		t.Fatal(err)
	}
	if h.Patience != time.Minute {
		t.Errorf("patience %v, want the 60 s all waited over the one who hung up", h.Patience)
	}
	if h.AHT != 180*time.Second || h.Profile.Share[time.Monday][18] != 2.0/3 || h.CallsPerYear["a"] != 2*52*7*24/(7*24-1) {
		t.Errorf("history: aht %v, Monday 09:00 share %v, a %d calls/year", h.AHT, h.Profile.Share[time.Monday][18], h.CallsPerYear["a"])
	}
	perWeek := int64(52 * 7 * 24 / (7*24 - 1))
	if want := map[string]int64{"wohngeld": perWeek, "a": perWeek, "b": perWeek}; !maps.Equal(h.SkillCallsPerYear, want) {
		t.Errorf("calls per skill %v, want %v", h.SkillCallsPerYear, want)
	}
}

// TestReportPerSkill: each skill staffed on its own needs at least the
// agents of its share, and together more than the pool (pooling saves),
// the pool's figure unchanged by the grouping.
func TestReportPerSkill(t *testing.T) {
	as := Assumptions{Profile: Profile115(), AHT: 4 * time.Minute, Target: 0.75, Threshold: 30 * time.Second,
		Staffing: StaffingConfig{HourlyCostCents: 3500}}
	members := []Member{{Key: "a", Name: "A", Population: 100000, CallsPerYear: 30000}}
	pool := Report(members, as, BillingConfig{})
	as.Skills = []Group{{Name: "wohngeld", CallsPerYear: 10000}, {Name: "a", CallsPerYear: 20000}}
	r := Report(members, as, BillingConfig{})
	if r.Staffing.FTE != pool.Staffing.FTE || len(r.Skills) != 2 {
		t.Fatalf("pool %.1f FTE with skills, %.1f without; %d skills", r.Staffing.FTE, pool.Staffing.FTE, len(r.Skills))
	}
	alone := r.Skills[0].FTE + r.Skills[1].FTE
	if r.Skills[0].FTE >= r.Skills[1].FTE || alone <= r.Staffing.FTE {
		t.Errorf("wohngeld %.1f FTE, a %.1f, pool %.1f", r.Skills[0].FTE, r.Skills[1].FTE, r.Staffing.FTE)
	}
	if r.Skills[1].PeakAgents() < 2 || r.Skills[1].WeeklyCalls < 384 || r.Skills[1].WeeklyCalls > 385 {
		t.Errorf("skill a: peak %d agents, %.1f calls a week (want 20,000 / 52)", r.Skills[1].PeakAgents(), r.Skills[1].WeeklyCalls)
	}
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if lines[0] != "group,name,day,from,calls,erlangs,agents,service_level,occupancy,abandon" || len(lines) != 1+3*100 ||
		!strings.HasPrefix(lines[1], "center,,Mo,08:00,") || !strings.HasPrefix(lines[101], "skill,wohngeld,Mo,08:00,") {
		t.Errorf("CSV: %d lines: %q … %q", len(lines), lines[0], lines[min(101, len(lines)-1)])
	}
}

// TestStaffWithPatience: with the callers' patience known, Erlang A
// staffs each half hour with no more agents than Erlang C (callers who
// hang up take no agent's time), still meeting the target, and says how
// many hang up.
func TestStaffWithPatience(t *testing.T) {
	d := DemandFrom(Profile115(), 4000, 4*time.Minute)
	c := Staff(d, 0.75, 30*time.Second, StaffingConfig{HourlyCostCents: 3500})
	d.Patience = 90 * time.Second
	a := Staff(d, 0.75, 30*time.Second, StaffingConfig{HourlyCostCents: 3500})
	if len(a.Intervals) != len(c.Intervals) || a.AgentHours > c.AgentHours || a.AgentHours == c.AgentHours {
		t.Fatalf("Erlang A %.1f agent hours, Erlang C %.1f", a.AgentHours, c.AgentHours)
	}
	for i, iv := range a.Intervals {
		if iv.Agents > c.Intervals[i].Agents || iv.Level < 0.75 || iv.Abandon <= 0 || iv.Abandon > 0.2 {
			t.Errorf("%s %s: Erlang A %d agents (SL %.3f, %.3f hang up), Erlang C %d", dayNames[iv.Day], SlotTime(iv.Slot),
				iv.Agents, iv.Level, iv.Abandon, c.Intervals[i].Agents)
		}
		if m := ErlangAModel(iv.Calls/1800, d.AHT, d.Patience, iv.Agents-1, 30*time.Second); iv.Agents > 1 && m.WithinT >= 0.75 {
			t.Errorf("%s %s: %d agents would do", dayNames[iv.Day], SlotTime(iv.Slot), iv.Agents-1)
		}
	}
}

// TestProfileRate: the shipped profile as a run's arrival rate — a run
// that begins Monday 08:00 at 60× is at Monday 09:00 after a minute, when
// the rate is the week's calls times that half hour's share per 1,800 s,
// 60 times over; Saturday has none; the maximum is Monday's peak.
func TestProfileRate(t *testing.T) {
	p := Profile115()
	rate, top := ProfileRate(p, 3600, 32*time.Hour, 60) // Monday 08:00
	if got, want := rate(time.Minute), 3600*p.Share[time.Monday][18]/1800*60; math.Abs(got-want) > 1e-9 {
		t.Errorf("Monday 09:00: %v calls/s, want %v", got, want)
	}
	if got := rate(time.Duration(5*24*60) * time.Second); got != 0 { // +5 days at 60× = Saturday 08:00
		t.Errorf("Saturday: %v calls/s", got)
	}
	if want := 3600 * p.Share[time.Monday][19] / 1800 * 60; math.Abs(top-want) > 1e-9 {
		t.Errorf("top %v, want Monday's peak %v", top, want)
	}
}
