package billing

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/sc115/sc115/cdr"
)

// Estimate is one tariff's yearly cost for one municipality.
type Estimate struct {
	TariffName     string
	Tariff         Tariff
	CallsPerYear   int64
	BillableSecs   int64 // per call
	PerMinuteCents int64
	FixedCents     int64
	CreditCents    int64
	TotalCents     int64
	PerResident    int64 // cents per resident and year
}

// EstimateYear prices a year of calls for a municipality: callsPerYear
// calls of ahtS seconds (talk + wrap-up) each, under tariff t. Calls are
// alike, so the amount is rounded once (per-invoice rounding).
func EstimateYear(name string, t Tariff, population int, callsPerYear, ahtS int64) Estimate {
	e := Estimate{TariffName: name, Tariff: t, CallsPerYear: callsPerYear, BillableSecs: t.BillableSeconds(ahtS*1000, 0, 0, 0)}
	total := callsPerYear * e.BillableSecs
	charged := max(0, total-t.IncludedMinutes*60*12)
	e.PerMinuteCents = roundUnits(charged * t.PerMinuteCents * (unitsPerCent / 60))
	e.FixedCents = t.FlatFeeCents * 12
	if t.Model == "per_resident" {
		e.FixedCents += t.PerResidentYearCents * int64(population)
	}
	if t.Model == "levy" {
		e.CreditCents = roundUnits(e.PerMinuteCents*t.LevySharePercent*(unitsPerCent/100)) + t.LevyFixedYearCents + t.SecondedHoursPerMonth*12*t.HourlyRateCents
	}
	e.TotalCents = e.PerMinuteCents + e.FixedCents - e.CreditCents
	if population > 0 {
		e.PerResident = (e.TotalCents + int64(population)/2) / int64(population)
	}
	return e
}

// EstimateAll prices the year under every configured tariff, grouped by
// model in the memo's order (standard, Karlsruhe, Ludwigshafen).
func EstimateAll(cfg BillingConfig, population int, callsPerYear, ahtS int64) []Estimate {
	var out []Estimate
	for _, model := range Models {
		var names []string
		for n, t := range cfg.Tariffs {
			if t.Model == model {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, EstimateYear(n, cfg.Tariffs[n], population, callsPerYear, ahtS))
		}
	}
	return out
}

// PrintEstimates writes the estimates side by side.
func PrintEstimates(w io.Writer, who string, population int, callsPerYear, ahtS int64, es []Estimate) {
	fmt.Fprintf(w, "Yearly cost estimate for %s: %d residents, %d calls/year, %d s talk + wrap-up per call\n\n", who, population, callsPerYear, ahtS)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	row := func(label string, f func(Estimate) string) {
		fmt.Fprint(tw, label+"\t")
		for _, e := range es {
			fmt.Fprint(tw, f(e)+"\t")
		}
		fmt.Fprintln(tw)
	}
	row("tariff", func(e Estimate) string { return e.TariffName })
	row("model", func(e Estimate) string { return e.Tariff.Model })
	row("increment", func(e Estimate) string { return e.Tariff.Increment })
	row("billable min/year", func(e Estimate) string { return minutes(e.CallsPerYear * e.BillableSecs) })
	row("per minute", func(e Estimate) string { return Euro(e.PerMinuteCents) })
	row("fixed", func(e Estimate) string { return Euro(e.FixedCents) })
	row("credit", func(e Estimate) string { return Euro(-e.CreditCents) })
	row("total/year", func(e Estimate) string { return Euro(e.TotalCents) })
	row("per resident", func(e Estimate) string { return Euro(e.PerResident) })
	_ = tw.Flush()
}

// Observed derives calls per year and the mean talk + wrap-up seconds of
// a municipality's answered calls from its CDRs (scaled from the days they
// span to a year).
func Observed(records []cdr.Record, municipality string) (callsPerYear, ahtS int64, err error) {
	var n, sumMS int64
	var first, last int64
	for _, r := range records {
		if r.Municipality != municipality || r.Disposition.Class() != cdr.ClassAnswered {
			continue
		}
		ms := r.ArrivedAt.UnixMilli()
		if n == 0 || ms < first {
			first = ms
		}
		last = max(last, ms)
		n++
		sumMS += r.TalkMS + r.WrapupMS
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("no answered calls for %s in the CDRs", municipality)
	}
	days := max(1, (last-first+86_399_999)/86_400_000)
	return n * 365 / days, (sumMS/n + 500) / 1000, nil
}
