package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestStaffingCommand (issue 17): `sc115 staffing` on the example: the
// terminal table with the staff cost, each financing model's revenue and
// balance, the cost-neutral price; a municipality joining (--add) with
// its marginal cost; each skill alone; the half hours as CSV; and the HTML report with the
// week's chart, looked at in headless Chromium.
func TestStaffingCommand(t *testing.T) {
	dir := t.TempDir()
	csvPath, htmlPath := filepath.Join(dir, "week.csv"), filepath.Join(dir, "report.html")
	code, out := captureStdout(t, func() int {
		return run([]string{"staffing", "--config", "../../deploy/examples/region-hannover.yaml",
			"--add", "municipality=Sehnde,population=24000", "--csv", csvPath, "--html", htmlPath})
	})
	// 714,000 residents × 0.3 = 214,200 calls/year; standard tariff 4
	// started minutes × 1.50 € each: 1,285,200.00 €.
	for _, want := range []string{"214200 calls/year", "standard", "1.285.200,00 €", "FTE", "Staff cost per year:",
		"Cost-neutral price:", "Each on its own:", "pooled in the center:", "With Sehnde (24000 residents, 7200 calls/year) joining:", "keeps the whole center cost-neutral"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	data, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	// Per half hour: the center, each of the 5 municipalities alone, each
	// of their 5 skills alone (in the example each municipality waits in
	// its own skill, so those rows equal its municipality's).
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != "group,name,day,from,calls,erlangs,agents,service_level,occupancy,abandon" || len(lines) != 1+11*5*20 {
		t.Fatalf("CSV: %d lines, header %q; want a row per half hour Mon–Fri 08–18 for the center, 5 municipalities and 5 skills", len(lines), lines[0])
	}
	if !strings.HasPrefix(lines[1], "center,,Mo,08:00,") {
		t.Errorf("first row %q", lines[1])
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.SplitN(l, ",", 3)
		rows[f[0]+":"+f[1]] = append(rows[f[0]+":"+f[1]], f[2])
	}
	for _, m := range []string{"hannover", "burgdorf", "lehrte", "garbsen", "wunstorf"} {
		if len(rows["skill:"+m]) != 100 || strings.Join(rows["skill:"+m], "|") != strings.Join(rows["municipality:"+m], "|") {
			t.Errorf("skill %s: %d rows, not its municipality's %d", m, len(rows["skill:"+m]), len(rows["municipality:"+m]))
		}
	}
	if !regexp.MustCompile(`(?m)^\s+hannover\s+160500\s+\d+\s+[\d.]+\s+[\d.,]+ €\s*$`).MatchString(out) {
		t.Errorf("no per-skill line for hannover (160,500 calls/year) in:\n%s", out)
	}

	ctx := browserContext(t, 1280, 900)
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+htmlPath)); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#fte", "Vollzeitkräfte")
	waitText(t, ctx, "#models", "standard")
	waitText(t, ctx, "#skills", "hannover")
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#chart rect").length`))
	if err != nil || bars != 100 {
		t.Errorf("the chart has %d bars, want 100 half hours: %v", bars, err)
	}
	screenshot(t, ctx, "staffing-report-1280x900.png")
}
