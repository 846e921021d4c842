package billing

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // billing periods are Europe/Berlin months, on any machine

	"github.com/sc115/sc115/cdr"
)

// unitsPerCent: amounts are computed exactly in 1/6000 cent (a per-minute
// price per second is 1/60, a levy percent 1/100 of that), rounded to
// cents half up only where the tariff says.
const unitsPerCent = 6000

func roundUnits(u int64) int64 {
	if u >= 0 {
		return (u + unitsPerCent/2) / unitsPerCent
	}
	return -((-u + unitsPerCent/2) / unitsPerCent)
}

// Period is a billing period: a calendar month or year in Europe/Berlin.
type Period struct {
	Name     string
	From, To time.Time
	Months   int64
}

// ParsePeriod reads "2026-10" (a month) or "2026" (a year).
func ParsePeriod(s string) (Period, error) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return Period{}, err
	}
	if t, err := time.ParseInLocation("2006-01", s, loc); err == nil {
		return Period{Name: s, From: t, To: t.AddDate(0, 1, 0), Months: 1}, nil
	}
	if t, err := time.ParseInLocation("2006", s, loc); err == nil {
		return Period{Name: s, From: t, To: t.AddDate(1, 0, 0), Months: 12}, nil
	}
	return Period{}, fmt.Errorf("period %q: want YYYY-MM or YYYY", s)
}

// Line is one line of an invoice.
type Line struct {
	Text   string
	Detail string
	Cents  int64
}

// Stats are a municipality's call statistics in the period.
type Stats struct {
	Offered, Answered, Abandoned, AbandonedShort, Overflowed, Rejected, Other int
}

// Invoice is one municipality's bill for a period.
type Invoice struct {
	Municipality   string
	Name           string
	Population     int
	Period         Period
	TariffName     string
	Tariff         Tariff
	CallsBilled    int
	TalkS          int64 // raw sums, rounded half up to seconds
	WrapupS        int64
	BillableS      int64 // after increment, minimum and cap, before included minutes
	IncludedS      int64 // covered by the flat fee
	PerMinuteCents int64
	FixedCents     int64
	CreditCents    int64
	TotalCents     int64
	Lines          []Line
	Stats          Stats
	Sender         Party
	Recipient      Party
	Number         string
}

// BillableMinutes is BillableS in minutes with two decimals.
func (in *Invoice) BillableMinutes() string {
	return fmt.Sprintf("%d.%02d", in.BillableS/60, (in.BillableS%60)*100/60)
}

// MunicipalityInfo is what billing needs of a configured municipality.
type MunicipalityInfo struct {
	Key, Name  string
	Population int
}

// Bill computes every municipality's invoice for the period from the CDRs
// below dir (all instances, deduplicated).
func Bill(dir string, period Period, cfg BillingConfig, munis []MunicipalityInfo) ([]*Invoice, cdr.ReadStats, error) {
	sc, err := scanDir(dir, period.From, period.To)
	if err != nil {
		return nil, cdr.ReadStats{}, err
	}
	idx := map[string]int{}
	for i, m := range sc.munis {
		idx[m] = i
	}
	var out []*Invoice
	for _, m := range munis {
		name, t, ok := cfg.TariffFor(m.Key)
		if !ok {
			return nil, sc.stats, fmt.Errorf("municipality %s: no tariff (set billing.default_tariff or billing.municipalities.%s)", m.Key, m.Key)
		}
		var calls []callFacts
		if i, ok := idx[m.Key]; ok {
			lo := sort.Search(len(sc.calls), func(k int) bool { return int(sc.calls[k].muni) >= i })
			hi := sort.Search(len(sc.calls), func(k int) bool { return int(sc.calls[k].muni) > i })
			calls = sc.calls[lo:hi]
		}
		in := invoice(m, period, name, t, calls)
		in.Sender, in.Recipient = cfg.Sender, cfg.Municipalities[m.Key].Recipient
		if in.Recipient.Name == "" {
			in.Recipient.Name = m.Name
		}
		in.Number = fmt.Sprintf("SC115-%s-%s", strings.ReplaceAll(period.Name, "-", ""), strings.ToUpper(m.Key))
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Municipality < out[j].Municipality })
	return out, sc.stats, nil
}

// invoice applies tariff t to one municipality's calls (in arrival order).
func invoice(m MunicipalityInfo, p Period, tariffName string, t Tariff, calls []callFacts) *Invoice {
	in := &Invoice{Municipality: m.Key, Name: m.Name, Population: m.Population, Period: p, TariffName: tariffName, Tariff: t}
	var talkMS, wrapMS int64
	included := t.IncludedMinutes * 60 * p.Months // free seconds left
	var minuteUnits, minuteCents int64
	for _, c := range calls {
		in.Stats.Offered++
		d := dispCodes[min(int(c.disp), len(dispCodes)-1)]
		switch d.Class() {
		case cdr.ClassAnswered:
			in.Stats.Answered++
		case cdr.ClassAbandoned:
			in.Stats.Abandoned++
		case cdr.ClassAbandonedShort:
			in.Stats.AbandonedShort++
		case cdr.ClassOverflowed:
			in.Stats.Overflowed++
		case cdr.ClassRejected:
			in.Stats.Rejected++
		default:
			in.Stats.Other++
		}
		if !d.Billable(t.BillOverflowed) {
			continue
		}
		s := t.BillableSeconds(int64(c.talk), int64(c.wrapup), int64(c.hold), int64(c.wait))
		if s == 0 {
			continue
		}
		in.CallsBilled++
		talkMS += int64(c.talk)
		wrapMS += int64(c.wrapup)
		in.BillableS += s
		free := min(s, included)
		included -= free
		in.IncludedS += free
		u := (s - free) * t.PerMinuteCents * (unitsPerCent / 60)
		minuteUnits += u
		minuteCents += roundUnits(u)
	}
	in.TalkS, in.WrapupS = (talkMS+500)/1000, (wrapMS+500)/1000
	if t.Rounding == "per_invoice" {
		in.PerMinuteCents = roundUnits(minuteUnits)
	} else {
		in.PerMinuteCents = minuteCents
	}
	charged := in.BillableS - in.IncludedS
	in.Lines = append(in.Lines, Line{Text: "Gesprächsminuten inkl. Nachbereitung",
		Detail: fmt.Sprintf("%d Gespräche, %s min abrechenbar (%s min inklusive), %s min × %s", in.CallsBilled, in.BillableMinutes(),
			minutes(in.IncludedS), minutes(charged), Euro(t.PerMinuteCents)), Cents: in.PerMinuteCents})
	if t.FlatFeeCents > 0 {
		c := t.FlatFeeCents * p.Months
		in.FixedCents += c
		in.Lines = append(in.Lines, Line{Text: "Pauschale", Detail: fmt.Sprintf("%d × %s/Monat, inkl. %d min/Monat", p.Months, Euro(t.FlatFeeCents), t.IncludedMinutes), Cents: c})
	}
	if t.Model == "per_resident" && t.PerResidentYearCents > 0 {
		c := roundUnits(t.PerResidentYearCents * int64(m.Population) * p.Months * (unitsPerCent / 12))
		in.FixedCents += c
		in.Lines = append(in.Lines, Line{Text: "Festbetrag je Einwohner/in", Detail: fmt.Sprintf("%d Einw. × %s/Jahr × %d/12", m.Population, Euro(t.PerResidentYearCents), p.Months), Cents: c})
	}
	if t.Model == "levy" {
		if t.LevySharePercent > 0 {
			c := roundUnits(in.PerMinuteCents * t.LevySharePercent * (unitsPerCent / 100))
			in.CreditCents += c
			in.Lines = append(in.Lines, Line{Text: "Anteil Regionsumlage", Detail: fmt.Sprintf("%d %% der Gesprächsminuten", t.LevySharePercent), Cents: -c})
		}
		if t.LevyFixedYearCents > 0 {
			c := roundUnits(t.LevyFixedYearCents * p.Months * (unitsPerCent / 12))
			in.CreditCents += c
			in.Lines = append(in.Lines, Line{Text: "Festbetrag aus der Regionsumlage", Detail: fmt.Sprintf("%s/Jahr × %d/12", Euro(t.LevyFixedYearCents), p.Months), Cents: -c})
		}
		if t.SecondedHoursPerMonth > 0 && t.HourlyRateCents > 0 {
			c := t.SecondedHoursPerMonth * p.Months * t.HourlyRateCents
			in.CreditCents += c
			in.Lines = append(in.Lines, Line{Text: "Gutschrift Personalgestellung", Detail: fmt.Sprintf("%d h × %s", t.SecondedHoursPerMonth*p.Months, Euro(t.HourlyRateCents)), Cents: -c})
		}
	}
	in.TotalCents = in.PerMinuteCents + in.FixedCents - in.CreditCents
	return in
}

func minutes(s int64) string { return fmt.Sprintf("%d.%02d", s/60, (s%60)*100/60) }

// CSVHeader is the header of invoices-<period>.csv.
var CSVHeader = []string{"municipality", "model", "calls_billed", "talk_s", "wrapup_s", "billable_s", "billable_minutes",
	"per_minute_cents", "fixed_cents", "credit_cents", "total_cents"}

// CSVFields is the invoice's row in invoices-<period>.csv.
func (in *Invoice) CSVFields() []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	return []string{in.Municipality, in.Tariff.Model, strconv.Itoa(in.CallsBilled), i(in.TalkS), i(in.WrapupS), i(in.BillableS),
		in.BillableMinutes(), i(in.PerMinuteCents), i(in.FixedCents), i(in.CreditCents), i(in.TotalCents)}
}
