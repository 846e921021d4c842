package billing

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// Staffing report outputs: a terminal table, CSV per half hour, and an
// HTML page with the agents needed over the week as a chart.

var dayNames = map[time.Weekday]string{time.Monday: "Mo", time.Tuesday: "Di", time.Wednesday: "Mi", time.Thursday: "Do",
	time.Friday: "Fr", time.Saturday: "Sa", time.Sunday: "So"}

// Print writes the report as terminal tables.
func (r StaffReport) Print(w io.Writer) {
	as, st := r.Assumptions, r.Staffing
	var pop int
	var calls int64
	for _, m := range r.Members {
		pop += m.Population
		calls += m.CallsPerYear
	}
	fmt.Fprintf(w, "Staffing for %d municipalities, %d residents: %d calls/year, %v talk + wrap-up per call\n", len(r.Members), pop, calls, as.AHT)
	fmt.Fprintf(w, "Profile: %s. Target %.0f %% within %v (%s). Shrinkage %d %%, %.1f h per FTE, %s per paid hour.\n\n",
		as.Profile.Name, 100*as.Target, as.Threshold, as.model(), as.Staffing.ShrinkagePercent, as.Staffing.WeeklyHours, Euro(as.Staffing.HourlyCostCents))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "municipality\tresidents\tcalls/year\tcalls/week\tFTE alone\tcost alone/year\t")
	var aloneFTE float64
	var aloneCost int64
	for i, m := range r.Members {
		fte, cost := st.FTE, st.YearCostCent
		if i < len(r.Alone) {
			fte, cost = r.Alone[i].FTE, r.Alone[i].YearCostCent
		}
		aloneFTE += fte
		aloneCost += cost
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.1f\t%s\t\n", m.Name, m.Population, m.CallsPerYear, float64(m.CallsPerYear)/52, fte, Euro(cost))
	}
	_ = tw.Flush()
	if len(r.Alone) > 0 {
		fmt.Fprintf(w, "Each on its own: %.1f FTE, %s a year; pooled in the center: %.1f FTE, %s (%s saved).\n",
			aloneFTE, Euro(aloneCost), st.FTE, Euro(st.YearCostCent), Euro(aloneCost-st.YearCostCent))
	}
	fmt.Fprintln(w)
	if len(r.Skills) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "skill (queue)\tcalls/year\tpeak agents alone\tFTE alone\tcost alone/year\t")
		for _, g := range r.Skills {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%s\t\n", g.Name, g.CallsPerYear, g.PeakAgents(), g.FTE, Euro(g.YearCostCent))
		}
		_ = tw.Flush()
		fmt.Fprintf(w, "A skill alone: as if only agents with that skill took its calls (the upper bound); agents with several skills bring it down to the pool's %.1f FTE.\n\n", st.FTE)
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "day\tcalls\tpeak agents\tat\tagent hours\t")
	for _, d := range st.Days() {
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%s\t%.1f\t\n", dayNames[d.Day], d.Calls, d.PeakAgents, SlotTime(d.PeakSlot), d.AgentHours)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nWeek: %.1f agent hours on the phone, %.1f paid (shrinkage), %.1f FTE. Staff cost per year: %s\n\n",
		st.AgentHours, st.PaidHours, st.FTE, Euro(st.YearCostCent))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tariff\tmodel\trevenue/year\tcost/year\tbalance\t")
	for _, m := range r.Models {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", m.Tariff, m.Model, Euro(m.RevenueCents), Euro(st.YearCostCent), Euro(m.BalanceCents))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nCost-neutral price: %s per billable minute (%d minutes/year).\n", Euro(r.CostNeutralPerMinCt), r.BillableMinutes)
}

// Print writes what a member joining changes.
func (mg Marginal) Print(w io.Writer) {
	fmt.Fprintf(w, "\nWith %s (%d residents, %d calls/year) joining:\n", mg.Member.Name, mg.Member.Population, mg.Member.CallsPerYear)
	fmt.Fprintf(w, "  FTE %.1f → %.1f (+%.1f); staff cost %s → %s (+%s per year)\n", mg.Without.Staffing.FTE, mg.With.Staffing.FTE, mg.FTE,
		Euro(mg.Without.Staffing.YearCostCent), Euro(mg.With.Staffing.YearCostCent), Euro(mg.CostCents))
	fmt.Fprintf(w, "  +%d billable minutes/year: %s per minute covers what it adds; %s per minute keeps the whole center cost-neutral\n",
		mg.BillableMinutes, Euro(mg.PerMinuteCents), Euro(mg.With.CostNeutralPerMinCt))
}

// model names the queueing model the assumptions staff with.
func (as Assumptions) model() string {
	if as.Patience > 0 {
		return fmt.Sprintf("Erlang A, mean patience %v", as.Patience)
	}
	return "Erlang C"
}

// WriteCSV writes one row per staffed half hour.
func (s Staffing) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvIntervalHeader)
	s.csvRows(cw, nil)
	cw.Flush()
	return cw.Error()
}

var csvIntervalHeader = []string{"day", "from", "calls", "erlangs", "agents", "service_level", "occupancy", "abandon"}

// csvRows writes a row per half hour, each starting with lead.
func (s Staffing) csvRows(cw *csv.Writer, lead []string) {
	for _, iv := range s.Intervals {
		_ = cw.Write(append(append([]string(nil), lead...), dayNames[iv.Day], SlotTime(iv.Slot), strconv.FormatFloat(iv.Calls, 'f', 1, 64),
			strconv.FormatFloat(iv.Erlangs, 'f', 2, 64), strconv.Itoa(iv.Agents), strconv.FormatFloat(iv.Level, 'f', 3, 64),
			strconv.FormatFloat(iv.Occupancy, 'f', 3, 64), strconv.FormatFloat(iv.Abandon, 'f', 3, 64)))
	}
}

// WriteCSV writes every half hour of the pool ("center"), of each
// municipality on its own ("municipality", its key) and of each skill on
// its own ("skill", its name): the columns group, name, then the
// intervals'.
func (r StaffReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(append([]string{"group", "name"}, csvIntervalHeader...))
	r.Staffing.csvRows(cw, []string{"center", ""})
	for i, st := range r.Alone {
		st.csvRows(cw, []string{"municipality", r.Members[i].Key})
	}
	for _, g := range r.Skills {
		g.csvRows(cw, []string{"skill", g.Name})
	}
	cw.Flush()
	return cw.Error()
}

// PeakAgents is the most agents any half hour needs.
func (s Staffing) PeakAgents() int {
	p := 0
	for _, iv := range s.Intervals {
		p = max(p, iv.Agents)
	}
	return p
}

// bar is one half hour in the HTML chart.
type bar struct {
	X, Y, W, H float64
	Title      string
}

// HTML writes the report as a page: the agents needed over the week as
// bars, the days, and the financing models.
func (r StaffReport) HTML(w io.Writer) error {
	st := r.Staffing
	peak := 1
	for _, iv := range st.Intervals {
		peak = max(peak, iv.Agents)
	}
	const width, height = 960.0, 220.0
	slotW := width / (5 * 20) // Mon–Fri, 20 half hours each: the 115 service week
	var bars []bar
	for _, iv := range st.Intervals {
		day := (int(iv.Day) + 6) % 7
		x := float64(day*20+(iv.Slot-16)) * slotW
		if iv.Slot < 16 || iv.Slot >= 36 || day > 4 {
			x = -100 // outside Mon–Fri 08–18: not drawn
		}
		h := (height - 20) * float64(iv.Agents) / float64(peak)
		bars = append(bars, bar{X: x, Y: height - 20 - h, W: slotW - 1, H: h,
			Title: fmt.Sprintf("%s %s: %d Agenten, %.0f Anrufe, SL %.0f %%", dayNames[iv.Day], SlotTime(iv.Slot), iv.Agents, iv.Calls, 100*iv.Level)})
	}
	return staffPage.Execute(w, map[string]any{"R": r, "Model": r.Assumptions.model(), "Bars": bars, "Peak": peak, "Days": st.Days(), "DayNames": dayNames,
		"Euro": Euro, "SlotTime": SlotTime, "DayX": func(i int) float64 { return float64(i*20) * slotW }})
}

var staffPage = template.Must(template.New("staffing").Funcs(template.FuncMap{"mul100": func(x float64) float64 { return 100 * x }}).Parse(`<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>sc115 – Personalbedarf</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1b2a41; }
table { border-collapse: collapse; margin: 1rem 0; } th, td { padding: .3rem .8rem; border-bottom: 1px solid #ccd; text-align: right; }
th:first-child, td:first-child { text-align: left; } .neg { color: #c0262d; } .pos { color: #1b8a3a; }
svg { background: #f4f6fa; } svg text { font-size: 11px; fill: #556; }
</style></head><body>
<h1>Personalbedarf und Kosten</h1>
<p>{{len .R.Members}} Kommunen, {{printf "%.0f" .R.Staffing.WeeklyCalls}} Anrufe je Woche, {{.R.Assumptions.AHT}} Gespräch und Nachbereitung je Anruf.
Ziel {{printf "%.0f" (mul100 .R.Assumptions.Target)}} % in {{.R.Assumptions.Threshold}} ({{.Model}}), Ausfallzeiten {{.R.Assumptions.Staffing.ShrinkagePercent}} %.</p>
<h2>Agenten am Telefon je halbe Stunde (Mo–Fr 08–18, höchstens {{.Peak}})</h2>
<svg id="chart" width="960" height="220" viewBox="0 0 960 220" role="img" aria-label="Agenten je halbe Stunde">
{{range .Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="#2a6fd6"><title>{{.Title}}</title></rect>
{{end}}{{range $i, $d := .Days}}<text x="{{call $.DayX $i}}" y="215">{{index $.DayNames $d.Day}}</text>
{{end}}</svg>
<table id="days"><tr><th>Tag</th><th>Anrufe</th><th>Spitze Agenten</th><th>um</th><th>Agentenstunden</th></tr>
{{range .Days}}<tr><td>{{index $.DayNames .Day}}</td><td>{{printf "%.0f" .Calls}}</td><td>{{.PeakAgents}}</td><td>{{call $.SlotTime .PeakSlot}}</td><td>{{printf "%.1f" .AgentHours}}</td></tr>
{{end}}</table>
{{if .R.Skills}}<h2>Je Fähigkeit (Warteschlange), jede für sich</h2>
<table id="skills"><tr><th>Fähigkeit</th><th>Anrufe/Jahr</th><th>Spitze Agenten</th><th>Vollzeitkräfte</th><th>Kosten/Jahr</th></tr>
{{range .R.Skills}}<tr><td>{{.Name}}</td><td>{{.CallsPerYear}}</td><td>{{.PeakAgents}}</td><td>{{printf "%.1f" .FTE}}</td><td>{{call $.Euro .YearCostCent}}</td></tr>
{{end}}</table>
<p>Für sich: als nähmen nur Agenten mit dieser Fähigkeit ihre Anrufe an (die obere Grenze); Agenten mit mehreren Fähigkeiten senken den Bedarf bis zu dem des ganzen Centers.</p>
{{end}}<p id="fte">{{printf "%.1f" .R.Staffing.FTE}} Vollzeitkräfte ({{printf "%.1f" .R.Assumptions.Staffing.WeeklyHours}} h), Personalkosten {{call .Euro .R.Staffing.YearCostCent}} im Jahr.</p>
<table id="models"><tr><th>Tarif</th><th>Modell</th><th>Einnahmen/Jahr</th><th>Kosten/Jahr</th><th>Saldo</th></tr>
{{range .R.Models}}<tr><td>{{.Tariff}}</td><td>{{.Model}}</td><td>{{call $.Euro .RevenueCents}}</td><td>{{call $.Euro $.R.Staffing.YearCostCent}}</td><td class="{{if lt .BalanceCents 0}}neg{{else}}pos{{end}}">{{call $.Euro .BalanceCents}}</td></tr>
{{end}}</table>
<p id="neutral">Kostendeckend: {{call .Euro .R.CostNeutralPerMinCt}} je abrechenbarer Minute ({{.R.BillableMinutes}} Minuten im Jahr).</p>
</body></html>
`))
