package billing

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"

	"github.com/rs/zerolog"
)

var berlin, _ = time.LoadLocation("Europe/Berlin")

// october writes the test month's CDRs for Burgdorf: three answered calls
// (raw talk+wrap-up 91.2 s, 10 s, 179 s), one abandoned, one answered in
// November (outside the period) and one for another municipality.
func october(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	w, err := cdr.NewWriter(dir, "i1", nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	at := func(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, berlin) }
	for _, r := range []cdr.Record{
		{CallID: "c1", Municipality: "burgdorf", ArrivedAt: at(1, 9), AnsweredAt: at(1, 9), TalkMS: 61200, WrapupMS: 30000, Disposition: cdr.Answered},
		{CallID: "c2", Municipality: "burgdorf", ArrivedAt: at(2, 9), AnsweredAt: at(2, 9), TalkMS: 10000, Disposition: cdr.Answered},
		{CallID: "c3", Municipality: "burgdorf", ArrivedAt: at(31, 23), AnsweredAt: at(31, 23), TalkMS: 119000, WrapupMS: 60000, Disposition: cdr.Answered},
		{CallID: "c4", Municipality: "burgdorf", ArrivedAt: at(3, 9), WaitMS: 40000, Disposition: cdr.Abandoned},
		{CallID: "nov", Municipality: "burgdorf", ArrivedAt: time.Date(2026, 11, 1, 0, 0, 1, 0, berlin), AnsweredAt: at(1, 9), TalkMS: 60000, Disposition: cdr.Answered},
		{CallID: "h1", Municipality: "hannover", ArrivedAt: at(5, 9), AnsweredAt: at(5, 9), TalkMS: 60000, Disposition: cdr.Answered},
	} {
		w.Now = func() time.Time { return r.ArrivedAt }
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	return dir
}

func bill(t *testing.T, dir string, tariff Tariff) *Invoice {
	t.Helper()
	cfg := BillingConfig{DefaultTariff: "t", Tariffs: map[string]Tariff{"t": tariff}}
	if err := cfg.Validate(map[string]bool{"burgdorf": true}); err != nil {
		t.Fatal(err)
	}
	p, _ := ParsePeriod("2026-10")
	invs, st, err := Bill(dir, p, cfg, []MunicipalityInfo{{Key: "burgdorf", Name: "Burgdorf", Population: 31000}})
	if err != nil || len(st.Bad) > 0 {
		t.Fatalf("bill: %v %v", err, st.Bad)
	}
	return invs[0]
}

func TestInvoiceStandardPerMinute6060(t *testing.T) {
	in := bill(t, october(t), Tariff{Model: "per_minute", PerMinuteCents: 150, Increment: "60/60"})
	// c1: 91.2 s → 92 s → 60/60: 120 s; c2: 10 s → 60 s; c3: 179 s → 180 s.
	// 360 s = 6 min × 1.50 € = 9.00 €. c4 abandoned, "nov" outside the period.
	want := "burgdorf,per_minute,3,190,90,360,6.00,900,0,0,900"
	if got := strings.Join(in.CSVFields(), ","); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	if in.Stats.Offered != 4 || in.Stats.Answered != 3 || in.Stats.Abandoned != 1 {
		t.Errorf("stats %+v", in.Stats)
	}
}

func TestInvoice601PerSecondAfterFirstMinute(t *testing.T) {
	in := bill(t, october(t), Tariff{Model: "per_minute", PerMinuteCents: 159, Increment: "60/1", Rounding: "per_invoice"})
	// c1 92 s, c2 60 s (first minute), c3 179 s: 331 s × 159 ct / 60 = 877.15 ct → 877 ct.
	if in.BillableS != 331 || in.PerMinuteCents != 877 || in.TotalCents != 877 {
		t.Errorf("billable %d s, %d ct, total %d; want 331 s, 877 ct", in.BillableS, in.PerMinuteCents, in.TotalCents)
	}
}

func TestInvoiceRoundingPerCallVersusPerInvoice(t *testing.T) {
	dir := t.TempDir()
	w, _ := cdr.NewWriter(dir, "i1", nil, zerolog.Nop())
	for i, id := range []string{"s1", "s2", "s3"} { // three calls of 0.4 s: 1 s each
		at := time.Date(2026, 10, 10, 10, 0, i, 0, berlin)
		w.Now = func() time.Time { return at }
		_ = w.Write(cdr.Record{CallID: id, Municipality: "burgdorf", ArrivedAt: at, AnsweredAt: at, TalkMS: 400, Disposition: cdr.Answered})
	}
	w.Close()
	// 1/1 at 1.50 €/min: 1 s = 2.5 ct. Per call: 3 × round(2.5) = 3 × 3 = 9 ct.
	// Per invoice: round(3 × 2.5 = 7.5) = 8 ct.
	if in := bill(t, dir, Tariff{Model: "per_minute", PerMinuteCents: 150, Increment: "1/1"}); in.TotalCents != 9 {
		t.Errorf("per call: %d ct, want 9", in.TotalCents)
	}
	if in := bill(t, dir, Tariff{Model: "per_minute", PerMinuteCents: 150, Increment: "1/1", Rounding: "per_invoice"}); in.TotalCents != 8 {
		t.Errorf("per invoice: %d ct, want 8", in.TotalCents)
	}
}

func TestInvoiceLudwigshafenPerResident(t *testing.T) {
	in := bill(t, october(t), Tariff{Model: "per_resident", PerResidentYearCents: 60, PerMinuteCents: 120})
	// 31,000 residents × 0.60 €/year × 1/12 = 1,550.00 €; 6 min × 1.20 € = 7.20 €.
	if in.FixedCents != 155000 || in.PerMinuteCents != 720 || in.TotalCents != 155720 {
		t.Errorf("fixed %d, per minute %d, total %d; want 155000, 720, 155720", in.FixedCents, in.PerMinuteCents, in.TotalCents)
	}
}

func TestInvoiceKarlsruheLevy(t *testing.T) {
	in := bill(t, october(t), Tariff{Model: "levy", PerMinuteCents: 150, LevySharePercent: 30, LevyFixedYearCents: 6000,
		SecondedHoursPerMonth: 1, HourlyRateCents: 100})
	// Minutes 9.00 €; credit 30 % = 2.70 €, 60.00 €/year × 1/12 = 5.00 €, 1 h × 1.00 € = 1.00 €:
	// credit 8.70 €, total 0.30 €.
	if in.PerMinuteCents != 900 || in.CreditCents != 870 || in.TotalCents != 30 {
		t.Errorf("per minute %d, credit %d, total %d; want 900, 870, 30", in.PerMinuteCents, in.CreditCents, in.TotalCents)
	}
}

func TestInvoiceFlatFeeWithIncludedMinutes(t *testing.T) {
	in := bill(t, october(t), Tariff{Model: "per_minute", PerMinuteCents: 150, FlatFeeCents: 5000, IncludedMinutes: 3})
	// In arrival order: c1 120 s and c2 60 s use the 3 included minutes; c3's 180 s cost 4.50 €.
	if in.IncludedS != 180 || in.PerMinuteCents != 450 || in.FixedCents != 5000 || in.TotalCents != 5450 {
		t.Errorf("included %d s, per minute %d, fixed %d, total %d; want 180, 450, 5000, 5450", in.IncludedS, in.PerMinuteCents, in.FixedCents, in.TotalCents)
	}
}

func TestInvoiceCapAndMinimum(t *testing.T) {
	in := bill(t, october(t), Tariff{Model: "per_minute", PerMinuteCents: 150, Increment: "1/1", CapS: 90, MinS: 30})
	// c1 92 s → cap 90; c2 10 s → minimum 30; c3 179 s → cap 90: 210 s × 2.5 ct = 525 ct.
	if in.BillableS != 210 || in.TotalCents != 525 {
		t.Errorf("billable %d s, total %d; want 210 s, 525 ct", in.BillableS, in.TotalCents)
	}
}

func TestInvoiceFilesAndSummary(t *testing.T) {
	dir := october(t)
	cfg := BillingConfig{Sender: Party{Name: "Region Hannover – Servicecenter 115", Address: []string{"Hildesheimer Str. 18", "30169 Hannover"}},
		DefaultTariff: "std", Tariffs: map[string]Tariff{"std": {Model: "per_minute", PerMinuteCents: 150}},
		Municipalities: map[string]MunicipalityBilling{"burgdorf": {Tariff: "std", Recipient: Party{Name: "Stadt Burgdorf", Address: []string{"Marktstraße 55", "31303 Burgdorf"}}}}}
	if err := cfg.Validate(map[string]bool{"burgdorf": true, "hannover": true}); err != nil {
		t.Fatal(err)
	}
	p, _ := ParsePeriod("2026-10")
	invs, st, err := Bill(dir, p, cfg, []MunicipalityInfo{{Key: "burgdorf", Name: "Burgdorf"}, {Key: "hannover", Name: "Hannover"}})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	files, err := WriteInvoices(out, p, invs, time.Date(2026, 11, 3, 0, 0, 0, 0, berlin))
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := os.ReadFile(filepath.Join(out, "invoices-2026-10.csv"))
	if !strings.Contains(string(csv), "burgdorf,per_minute,3,190,90,360,6.00,900,0,0,900\n") || !strings.Contains(string(csv), "hannover,per_minute,1,60,0,60,1.00,150,0,0,150\n") {
		t.Errorf("invoices csv:\n%s", csv)
	}
	html, _ := os.ReadFile(filepath.Join(out, "invoice-burgdorf-2026-10.html"))
	for _, want := range []string{"Stadt Burgdorf", "Marktstraße 55", "Region Hannover – Servicecenter 115", "SC115-202610-BURGDORF",
		"01.10.2026 – 31.10.2026", "9,00 €", "Taktung 60/60"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("invoice lacks %q", want)
		}
	}
	if len(files) != 3 {
		t.Errorf("files %v", files)
	}
	var sum strings.Builder
	Summary(&sum, p, invs, st)
	if !strings.Contains(sum.String(), "10,50 €") {
		t.Errorf("summary lacks the grand total 10,50 €:\n%s", sum.String())
	}
}

// TestInvoiceOneRuleForCutAndReapedCalls: a call an agent answered is
// billed for its talk however it ended — by shutdown (answered, hangup_by
// system) or by the loss of its instance (a reaper's row: answered,
// hangup_by instance-lost); unanswered interrupted calls are not billed.
// When the owner wrote its own row too, the owner's row counts, once.
func TestInvoiceOneRuleForCutAndReapedCalls(t *testing.T) {
	dir := t.TempDir()
	w, _ := cdr.NewWriter(dir, "i1", nil, zerolog.Nop())
	at := time.Date(2026, 10, 10, 10, 0, 0, 0, berlin)
	w.Now = func() time.Time { return at }
	for _, r := range []cdr.Record{
		{CallID: "cut", Municipality: "burgdorf", ArrivedAt: at, AnsweredAt: at, TalkMS: 60_000, Disposition: cdr.Answered, HangupBy: "system"},
		{CallID: "reaped", Municipality: "burgdorf", ArrivedAt: at, AnsweredAt: at, TalkMS: 120_000, Disposition: cdr.Answered, HangupBy: cdr.HangupInstanceLost},
		{CallID: "owner-too", Municipality: "burgdorf", ArrivedAt: at, AnsweredAt: at, TalkMS: 300_000, Disposition: cdr.Answered, HangupBy: cdr.HangupInstanceLost},
		{CallID: "owner-too", Municipality: "burgdorf", ArrivedAt: at, AnsweredAt: at, TalkMS: 180_000, WrapupMS: 60_000, Disposition: cdr.Answered, HangupBy: "caller"},
		{CallID: "waiting", Municipality: "burgdorf", ArrivedAt: at, Disposition: cdr.Interrupted, HangupBy: cdr.HangupInstanceLost},
	} {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	// 1 + 2 + (3 + 1) minutes = 7 min × 1.50 € = 10.50 €.
	in := bill(t, dir, Tariff{Model: "per_minute", PerMinuteCents: 150})
	if in.CallsBilled != 3 || in.TotalCents != 1050 {
		t.Errorf("%d calls billed, %d ct; want 3 calls, 1050 ct", in.CallsBilled, in.TotalCents)
	}
}
