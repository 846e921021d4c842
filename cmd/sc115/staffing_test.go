package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestStaffingCommand (issue 17): `sc115 staffing` on the example: the
// terminal table with the staff cost, each financing model's revenue and
// balance, the cost-neutral price; a municipality joining (--add) with
// its marginal cost; the half hours as CSV; and the HTML report with the
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
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != "day,from,calls,erlangs,agents,service_level,occupancy,abandon" || len(lines) != 1+5*20 {
		t.Fatalf("CSV: %d lines, header %q; want a row per half hour Mon–Fri 08–18", len(lines), lines[0])
	}
	if !strings.HasPrefix(lines[1], "Mo,08:00,") {
		t.Errorf("first row %q", lines[1])
	}

	ctx := browserContext(t, 1280, 900)
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+htmlPath)); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#fte", "Vollzeitkräfte")
	waitText(t, ctx, "#models", "standard")
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#chart rect").length`))
	if err != nil || bars != 100 {
		t.Errorf("the chart has %d bars, want 100 half hours: %v", bars, err)
	}
	screenshot(t, ctx, "staffing-report-1280x900.png")
}
