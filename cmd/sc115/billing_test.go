package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
)

// captureStdout runs f and returns what it printed.
func captureStdout(t *testing.T, f func() int) (int, string) {
	t.Helper()
	r, w, _ := os.Pipe()
	old := os.Stdout
	os.Stdout = w
	code := f()
	w.Close()
	os.Stdout = old
	var b bytes.Buffer
	_, _ = io.Copy(&b, r)
	return code, b.String()
}

// TestBillingCommand runs `sc115 billing` on CDRs of two instances (one
// file copied twice) with the example config's tariffs.
func TestBillingCommand(t *testing.T) {
	dir := t.TempDir()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := time.Date(2026, 10, 15, 10, 0, 0, 0, berlin)
	for _, inst := range []string{"hannover-1", "hannover-2"} {
		w, err := cdr.NewWriter(filepath.Join(dir, inst), inst, nil, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range []string{"burgdorf", "garbsen", "lehrte"} {
			_ = w.Write(cdr.Record{CallID: inst + m, Municipality: m, ArrivedAt: at.Add(time.Duration(i) * time.Minute), AnsweredAt: at,
				TalkMS: 100_000, WrapupMS: 30_000, Disposition: cdr.Answered})
		}
		w.Close()
	}
	// The same file again under another folder (a copy): billed once.
	written, _ := filepath.Glob(filepath.Join(dir, "hannover-1", "cdr-hannover-1-*.csv"))
	data, err := os.ReadFile(written[0])
	if err != nil {
		t.Fatal(err)
	}
	_ = os.MkdirAll(filepath.Join(dir, "copy"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "copy", filepath.Base(written[0])), data, 0o644)

	out := t.TempDir()
	code, stdout := captureStdout(t, func() int {
		return run([]string{"billing", "--config", "../../deploy/examples/region-hannover.yaml", "--cdr-dir", dir, "--period", "2026-10", "--out", out})
	})
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	csv, _ := os.ReadFile(filepath.Join(out, "invoices-2026-10.csv"))
	// Burgdorf, standard 1.50 €/min 60/60: two calls of 130 s → 180 s each → 6 min → 9.00 €.
	// Garbsen, ludwigshafen 1/1 1.20 €/min per invoice: 260 s → 5.20 €; 61,000 × 0.50 €/12 = 2,541.67 €.
	// Lehrte, karlsruhe 60/1 1.55 €/min: 260 s × 1.55/60 = 6.7166 → 6.72 €; credit 30 % of 6.72 = 2.016 → 2.02 €,
	// 3,000 €/12 = 250.00 €, 10 h × 42 € = 420.00 €: 672.02 € credit, total -665.30 € (a credit balance).
	for _, want := range []string{
		"burgdorf,per_minute,2,200,60,360,6.00,900,0,0,900",
		"garbsen,per_resident,2,200,60,260,4.33,520,254167,0,254687",
		"lehrte,levy,2,200,60,260,4.33,672,0,67202,-66530",
		"hannover,per_minute,0,0,0,0,0.00,0,0,0,0",
	} {
		if !strings.Contains(string(csv), want+"\n") {
			t.Errorf("invoices lack %q:\n%s", want, csv)
		}
	}
	if !strings.Contains(stdout, "3 duplicates ignored") {
		t.Errorf("summary does not report the copied file's duplicates:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(out, "invoice-garbsen-2026-10.html")); err != nil {
		t.Error(err)
	}
}

// TestEstimateCommand: `sc115 billing estimate` prices a municipality's
// expected year under every configured tariff, totals checked to the cent.
func TestEstimateCommand(t *testing.T) {
	code, out := captureStdout(t, func() int {
		return run([]string{"billing", "estimate", "--config", "../../deploy/examples/region-hannover.yaml", "--population", "31000", "--calls-per-resident", "0.12", "--aht-s", "240"})
	})
	// 3,720 calls × 240 s = 14,880 min. Standard 60/60 at 1.50 €: 22,320.00 €.
	// Ludwigshafen: 14,880 × 1.20 € = 17,856.00 € + 31,000 × 0.50 € = 15,500.00 € → 33,356.00 €.
	if code != 0 || !strings.Contains(out, "22.320,00 €") || !strings.Contains(out, "33.356,00 €") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// TestPurgeCommand: `sc115 cdr purge` folds days older than the limit into
// aggregates without caller numbers and deletes their files, keeping the rest.
func TestPurgeCommand(t *testing.T) {
	dir := t.TempDir()
	w, _ := cdr.NewWriter(dir, "i1", nil, zerolog.Nop())
	old := time.Now().AddDate(0, 0, -200)
	recent := time.Now().AddDate(0, 0, -10)
	for i, at := range []time.Time{old, old, recent} {
		w.Write(cdr.Record{CallID: string(rune('a' + i)), Municipality: "burgdorf", Caller: "+495136123xxx", ArrivedAt: at, AnsweredAt: at, TalkMS: 60_000, Disposition: cdr.Answered})
	}
	w.Close()
	// Writer files are dated by write time; backdate by renaming like a real old file.
	files, _ := filepath.Glob(filepath.Join(dir, "cdr-*.csv"))
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	data, _ := os.ReadFile(files[0])
	lines := strings.SplitAfter(string(data), "\n")
	_ = os.WriteFile(filepath.Join(dir, "cdr-i1-"+old.UTC().Format("2006-01-02")+".csv"), []byte(lines[0]+lines[1]+lines[2]), 0o644)
	_ = os.WriteFile(files[0], []byte(lines[0]+lines[3]), 0o644)

	code, out := captureStdout(t, func() int { return run([]string{"cdr", "purge", "--cdr-dir", dir, "--older-than", "180d"}) })
	if code != 0 || !strings.Contains(out, "purged 1 days (2 calls, 1 files)") {
		t.Fatalf("exit %d: %s", code, out)
	}
	agg, _ := os.ReadFile(filepath.Join(dir, cdr.AggregatesFile))
	want := old.UTC().Format("2006-01-02") + ",burgdorf,2,2,0,0,0,0,120,0," + old.UTC().Format("2006-01-02") + "-"
	if !strings.Contains(string(agg), want) || strings.Contains(string(agg), "5136") {
		t.Errorf("aggregates:\n%s\nwant %q and no caller numbers", agg, want)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "cdr-*.csv"))
	if len(left) != 1 {
		t.Errorf("files left %v, want only the recent day", left)
	}
}

// TestPurgeRefusesTooShortRetention: --older-than 0d (or anything that
// reaches into this or last month, which may still be invoiced) is refused
// with a clear message and deletes nothing.
func TestPurgeRefusesTooShortRetention(t *testing.T) {
	dir := t.TempDir()
	w, _ := cdr.NewWriter(dir, "i1", nil, zerolog.Nop())
	_ = w.Write(cdr.Record{CallID: "today", Municipality: "burgdorf", ArrivedAt: time.Now(), Disposition: cdr.Answered})
	w.Close()
	for _, age := range []string{"0d", "1d", "2w"} {
		if code := run([]string{"cdr", "purge", "--cdr-dir", dir, "--older-than", age}); code != 2 {
			t.Errorf("--older-than %s: exit %d, want 2", age, code)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "cdr-*.csv")); len(files) != 1 {
		t.Errorf("files %v: nothing may be deleted", files)
	}
}
