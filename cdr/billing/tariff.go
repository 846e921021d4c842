package billing

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sc115/sc115/internal/cfgerr"
)

// BillingConfig is the billing section: who bills, the tariffs, and which
// municipality pays under which tariff. Money is in integer euro cents.
type BillingConfig struct {
	Sender         Party                          `yaml:"sender"`
	DefaultTariff  string                         `yaml:"default_tariff"`
	Tariffs        map[string]Tariff              `yaml:"tariffs"`
	Municipalities map[string]MunicipalityBilling `yaml:"municipalities"`
	// Staffing prices the agents a center needs (sc115 staffing).
	Staffing StaffingConfig `yaml:"staffing"`
}

// Party is an invoice's sender or recipient.
type Party struct {
	Name    string   `yaml:"name"`
	Address []string `yaml:"address"`
	Contact string   `yaml:"contact"`
}

// MunicipalityBilling says which tariff a municipality pays and where the
// invoice goes.
type MunicipalityBilling struct {
	Tariff    string `yaml:"tariff"`
	Recipient Party  `yaml:"recipient"`
}

// Tariff is a contract's terms (see the README's billing section).
type Tariff struct {
	// Model: per_minute (the standard), levy (Karlsruhe), per_resident (Ludwigshafen).
	Model string `yaml:"model"`
	// PerMinuteCents is the price of one billable minute.
	PerMinuteCents int64 `yaml:"per_minute_cents"`
	// Components of a call that count: talk, wrapup, hold, wait (default talk + wrapup).
	Components []string `yaml:"components"`
	// Increment "first/next" in seconds: 60/60 bills every started minute,
	// 60/1 the first minute then per second, 1/1 per second (default 60/60).
	Increment string `yaml:"increment"`
	// CapS caps a call's billable seconds (0: none); MinS is the minimum
	// billable seconds of a billed call (0: none).
	CapS int64 `yaml:"cap_s"`
	MinS int64 `yaml:"min_s"`
	// FlatFeeCents per month, which includes IncludedMinutes per month.
	FlatFeeCents    int64 `yaml:"flat_fee_cents"`
	IncludedMinutes int64 `yaml:"included_minutes"`
	// Rounding to cents: per_call (each call's amount, then summed) or
	// per_invoice (exact sum, rounded once). Half up either way.
	Rounding string `yaml:"rounding"`
	// BillOverflowed bills calls forwarded to another center as own minutes.
	BillOverflowed bool `yaml:"bill_overflowed"`
	// Levy (Karlsruhe model): share of the per-minute amount covered by the
	// regional levy (percent), a fixed yearly amount covered by it, and
	// staff seconded by the municipality credited per hour.
	LevySharePercent      int64 `yaml:"levy_share_percent"`
	LevyFixedYearCents    int64 `yaml:"levy_fixed_year_cents"`
	SecondedHoursPerMonth int64 `yaml:"seconded_hours_per_month"`
	HourlyRateCents       int64 `yaml:"hourly_rate_cents"`
	// PerResidentYearCents (Ludwigshafen model): per resident and year,
	// billed pro rata per period.
	PerResidentYearCents int64 `yaml:"per_resident_year_cents"`

	first, next int64
	comps       map[string]bool
}

// Models are the financing models of the municipal memo.
var Models = []string{"per_minute", "levy", "per_resident"}

// Validate checks the section against the municipality keys; field paths
// start with "billing".
func (b *BillingConfig) Validate(municipalities map[string]bool) error {
	b.Staffing.Defaults()
	if p := b.Staffing.ShrinkagePercent; p < 0 || p > 90 {
		return cfgerr.New("billing.staffing.shrinkage_percent", "%d is outside 0–90", p)
	}
	if b.Staffing.HourlyCostCents < 0 {
		return cfgerr.New("billing.staffing.hourly_cost_cents", "must not be negative")
	}
	if b.Staffing.WeeklyHours <= 0 || b.Staffing.WeeklyHours > 60 {
		return cfgerr.New("billing.staffing.weekly_hours", "%v is outside (0, 60]", b.Staffing.WeeklyHours)
	}
	if len(b.Tariffs) == 0 && len(b.Municipalities) == 0 && b.DefaultTariff == "" {
		return nil // no billing configured
	}
	if _, ok := b.Tariffs[b.DefaultTariff]; b.DefaultTariff != "" && !ok {
		return cfgerr.New("billing.default_tariff", "no tariff %q", b.DefaultTariff)
	}
	names := make([]string, 0, len(b.Tariffs))
	for n := range b.Tariffs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := b.Tariffs[n]
		if err := t.prepare("billing.tariffs." + n); err != nil {
			return err
		}
		b.Tariffs[n] = t
	}
	for m, mb := range b.Municipalities {
		if !municipalities[m] {
			return cfgerr.New("billing.municipalities."+m, "no municipality %q", m)
		}
		if _, ok := b.Tariffs[mb.Tariff]; !ok {
			return cfgerr.New("billing.municipalities."+m+".tariff", "no tariff %q", mb.Tariff)
		}
	}
	return nil
}

// TariffFor returns the tariff name and terms for a municipality.
func (b *BillingConfig) TariffFor(municipality string) (string, Tariff, bool) {
	name := b.DefaultTariff
	if mb, ok := b.Municipalities[municipality]; ok && mb.Tariff != "" {
		name = mb.Tariff
	}
	t, ok := b.Tariffs[name]
	return name, t, ok
}

func (t *Tariff) prepare(f string) error {
	switch t.Model {
	case "per_minute", "levy", "per_resident":
	default:
		return cfgerr.New(f+".model", "%q is not one of %s", t.Model, strings.Join(Models, ", "))
	}
	if t.PerMinuteCents < 0 || t.FlatFeeCents < 0 || t.IncludedMinutes < 0 || t.CapS < 0 || t.MinS < 0 ||
		t.PerResidentYearCents < 0 || t.LevyFixedYearCents < 0 || t.HourlyRateCents < 0 || t.SecondedHoursPerMonth < 0 {
		return cfgerr.New(f, "amounts, minutes and seconds must not be negative")
	}
	if t.LevySharePercent < 0 || t.LevySharePercent > 100 {
		return cfgerr.New(f+".levy_share_percent", "%d is outside 0–100", t.LevySharePercent)
	}
	if t.Increment == "" {
		t.Increment = "60/60"
	}
	a, b, ok := strings.Cut(t.Increment, "/")
	first, err1 := strconv.ParseInt(a, 10, 64)
	next, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || first < 1 || next < 1 {
		return cfgerr.New(f+".increment", "%q: want first/next in seconds, e.g. 60/60, 60/1, 1/1", t.Increment)
	}
	t.first, t.next = first, next
	if len(t.Components) == 0 {
		t.Components = []string{"talk", "wrapup"}
	}
	t.comps = map[string]bool{}
	for i, c := range t.Components {
		switch c {
		case "talk", "wrapup", "hold", "wait":
			t.comps[c] = true
		default:
			return cfgerr.New(fmt.Sprintf("%s.components[%d]", f, i), "%q is not one of talk, wrapup, hold, wait", c)
		}
	}
	switch t.Rounding {
	case "":
		t.Rounding = "per_call"
	case "per_call", "per_invoice":
	default:
		return cfgerr.New(f+".rounding", "%q is not per_call or per_invoice", t.Rounding)
	}
	return nil
}

// BillableSeconds rates one call's raw component times (ms): every started
// second counts; then the minimum, the increment and the cap apply. A call
// with no time in the counted components is not billed (0).
func (t *Tariff) BillableSeconds(talkMS, wrapupMS, holdMS, waitMS int64) int64 {
	var ms int64
	if t.comps["talk"] {
		ms += talkMS
	}
	if t.comps["wrapup"] {
		ms += wrapupMS
	}
	if t.comps["hold"] {
		ms += holdMS
	}
	if t.comps["wait"] {
		ms += waitMS
	}
	if ms <= 0 {
		return 0
	}
	s := (ms + 999) / 1000
	s = max(s, t.MinS)
	if s <= t.first {
		s = t.first
	} else {
		s = t.first + (s-t.first+t.next-1)/t.next*t.next
	}
	if t.CapS > 0 {
		s = min(s, t.CapS)
	}
	return s
}

// Describe is the tariff in words for the invoice (German, as invoiced).
func (t *Tariff) Describe() string {
	var parts []string
	switch t.Model {
	case "per_minute":
		parts = append(parts, "Minutenpreis inkl. Nachbereitung (Standardlösung)")
	case "levy":
		parts = append(parts, "Teilfinanzierung über die Regionsumlage, Personalgestellung, Minutenpreis (Modell Karlsruhe)")
	case "per_resident":
		parts = append(parts, "Festbetrag je Einwohner/in und Minutenpreis (Modell Ludwigshafen)")
	}
	parts = append(parts, fmt.Sprintf("%s je Minute", Euro(t.PerMinuteCents)),
		fmt.Sprintf("Taktung %s (Sekunden)", t.Increment), "gezählt: "+strings.Join(t.Components, ", "))
	if t.MinS > 0 {
		parts = append(parts, fmt.Sprintf("Mindestdauer %d s", t.MinS))
	}
	if t.CapS > 0 {
		parts = append(parts, fmt.Sprintf("Höchstdauer %d s je Gespräch", t.CapS))
	}
	if t.Rounding == "per_invoice" {
		parts = append(parts, "Rundung je Rechnung")
	} else {
		parts = append(parts, "Rundung je Gespräch")
	}
	return strings.Join(parts, "; ")
}

// Euro formats cents the German way: 1.234,56 €.
func Euro(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	e := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	for i, r := range e {
		if i > 0 && (len(e)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(r)
	}
	return fmt.Sprintf("%s%s,%02d €", sign, b.String(), cents%100)
}
