package billing

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"

	"github.com/rs/zerolog"
)

// TestPropertyBillingIsAPlainSumAndSplitInvariant: for random CDR sets and
// random tariffs, (1) the invoice equals a plain recomputation written
// independently here (each call rated by the definition in the README,
// summed, then fees and credits), and (2) writing the same calls into any
// number of files and instances, with some rows duplicated, changes no
// total.
func TestPropertyBillingIsAPlainSumAndSplitInvariant(t *testing.T) {
	p, _ := ParsePeriod("2026-10")
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		var recs []cdr.Record
		for i := 0; i < 50+rng.IntN(200); i++ {
			at := p.From.Add(time.Duration(rng.Int64N(int64(p.To.Sub(p.From)))))
			r := cdr.Record{CallID: fmt.Sprintf("s%d-c%d", seed, i), Municipality: "burgdorf", ArrivedAt: at,
				TalkMS: rng.Int64N(900_000), WrapupMS: rng.Int64N(120_000), HoldMS: rng.Int64N(60_000), WaitMS: rng.Int64N(90_000),
				Disposition: []cdr.Disposition{cdr.Answered, cdr.Answered, cdr.Answered, cdr.Abandoned, cdr.Overflowed}[rng.IntN(5)]}
			if r.Disposition == cdr.Answered {
				r.AnsweredAt = at
			}
			recs = append(recs, r)
		}
		tf := Tariff{Model: Models[rng.IntN(3)], PerMinuteCents: 50 + rng.Int64N(150),
			Increment: []string{"60/60", "60/1", "1/1", "30/10"}[rng.IntN(4)], Rounding: []string{"per_call", "per_invoice"}[rng.IntN(2)],
			Components: [][]string{{"talk", "wrapup"}, {"talk"}, {"talk", "wrapup", "hold", "wait"}}[rng.IntN(3)],
			CapS:       []int64{0, 600}[rng.IntN(2)], MinS: []int64{0, 20}[rng.IntN(2)], IncludedMinutes: []int64{0, 100}[rng.IntN(2)],
			FlatFeeCents: []int64{0, 9900}[rng.IntN(2)], BillOverflowed: rng.IntN(2) == 0,
			PerResidentYearCents: 40, LevySharePercent: 25, LevyFixedYearCents: 120000, SecondedHoursPerMonth: 3, HourlyRateCents: 3900}
		cfg := BillingConfig{DefaultTariff: "t", Tariffs: map[string]Tariff{"t": tf}}
		if err := cfg.Validate(map[string]bool{"burgdorf": true}); err != nil {
			t.Fatal(err)
		}
		tf = cfg.Tariffs["t"]
		want := plainInvoice(recs, tf, 31000)

		one := writeSplit(t, recs, 1, false, rng)
		many := writeSplit(t, recs, 1+rng.IntN(4), true, rng)
		for name, dir := range map[string]string{"one file": one, "split+dup": many} {
			invs, _, err := Bill(dir, p, cfg, []MunicipalityInfo{{Key: "burgdorf", Population: 31000}})
			if err != nil {
				t.Fatal(err)
			}
			got := invs[0]
			if got.TotalCents != want.total || got.PerMinuteCents != want.perMinute || got.BillableS != want.billable || got.CallsBilled != want.calls {
				t.Fatalf("seed %d, %s, tariff %+v:\n got total %d per-minute %d billable %d calls %d\nwant total %d per-minute %d billable %d calls %d",
					seed, name, tf, got.TotalCents, got.PerMinuteCents, got.BillableS, got.CallsBilled, want.total, want.perMinute, want.billable, want.calls)
			}
			var lines int64
			for _, l := range got.Lines {
				lines += l.Cents
			}
			if lines != got.TotalCents {
				t.Fatalf("seed %d: invoice lines sum to %d, total says %d", seed, lines, got.TotalCents)
			}
		}
	}
}

type plain struct {
	total, perMinute, billable int64
	calls                      int
}

// plainInvoice recomputes an invoice straight from the definitions, in
// integer arithmetic of its own: rate each call, use included seconds in
// arrival order, round half up as the tariff says, add fees and credits.
func plainInvoice(recs []cdr.Record, t Tariff, population int64) plain {
	sorted := append([]cdr.Record(nil), recs...)
	for i := range sorted { // insertion sort by arrival, then id: the order billing uses
		for j := i; j > 0 && (sorted[j].ArrivedAt.Before(sorted[j-1].ArrivedAt) ||
			sorted[j].ArrivedAt.Equal(sorted[j-1].ArrivedAt) && sorted[j].CallID < sorted[j-1].CallID); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	var p plain
	free := t.IncludedMinutes * 60
	var exact60 int64 // Σ charged seconds × price (cents·s per min), i.e. 60 × cents
	var perCall int64
	half := func(num, den int64) int64 { return (2*num + den) / (2 * den) } // half up for num ≥ 0
	for _, r := range sorted {
		if !(r.Disposition == cdr.Answered || r.Disposition == cdr.Overflowed && t.BillOverflowed) {
			continue
		}
		var ms int64
		for _, c := range t.Components {
			ms += map[string]int64{"talk": r.TalkMS, "wrapup": r.WrapupMS, "hold": r.HoldMS, "wait": r.WaitMS}[c]
		}
		if ms == 0 {
			continue
		}
		s := max((ms+999)/1000, t.MinS)
		if s <= t.first {
			s = t.first
		} else {
			steps := (s - t.first) / t.next
			if (s-t.first)%t.next != 0 {
				steps++
			}
			s = t.first + steps*t.next
		}
		if t.CapS > 0 && s > t.CapS {
			s = t.CapS
		}
		p.calls++
		p.billable += s
		f := min(free, s)
		free -= f
		exact60 += (s - f) * t.PerMinuteCents
		perCall += half((s-f)*t.PerMinuteCents, 60)
	}
	if t.Rounding == "per_invoice" {
		p.perMinute = half(exact60, 60)
	} else {
		p.perMinute = perCall
	}
	fixed := t.FlatFeeCents
	if t.Model == "per_resident" {
		fixed += half(t.PerResidentYearCents*population, 12)
	}
	var credit int64
	if t.Model == "levy" {
		credit = half(p.perMinute*t.LevySharePercent, 100) + half(t.LevyFixedYearCents, 12) + t.SecondedHoursPerMonth*t.HourlyRateCents
	}
	p.total = p.perMinute + fixed - credit
	return p
}

// writeSplit writes recs into n instances' files (shuffled), duplicating
// some rows into extra copies when dup is set.
func writeSplit(t *testing.T, recs []cdr.Record, n int, dup bool, rng *rand.Rand) string {
	dir := t.TempDir()
	ws := make([]*cdr.Writer, n)
	for i := range ws {
		var err error
		if ws[i], err = cdr.NewWriter(filepath.Join(dir, fmt.Sprintf("inst%d", i)), fmt.Sprintf("inst%d", i), nil, zerolog.Nop()); err != nil {
			t.Fatal(err)
		}
	}
	extra, _ := cdr.NewWriter(filepath.Join(dir, "copied"), "copied", nil, zerolog.Nop())
	for _, i := range rng.Perm(len(recs)) {
		_ = ws[rng.IntN(n)].Write(recs[i])
		if dup && rng.IntN(5) == 0 {
			_ = extra.Write(recs[i])
		}
	}
	for _, w := range ws {
		w.Close()
	}
	extra.Close()
	if !dup {
		os.RemoveAll(filepath.Join(dir, "copied"))
	}
	return dir
}
