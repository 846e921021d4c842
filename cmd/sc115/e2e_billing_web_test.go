package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/acd/web"
	"github.com/sc115/sc115/cdr"
)

// TestBillingDownloads (issue 15): the billing office signs in and
// downloads October's invoices and CDRs from the browser side. Two
// Burgdorf calls in October (80 s and 190 s of talk + wrap-up: 2 + 4
// started minutes at 1.50 € = 9.00 €) and one in November (not in the
// period): the JSON and CSV say 9.00 €, the HTML invoice names the city
// and the total, the CDR export has exactly October's two rows. A
// supervisor or an agent may not download; a bad period is 400.
func TestBillingDownloads(t *testing.T) {
	cfg := testConfig(t)
	writeOctober(t, cfg.CDR.Dir)
	s := startTest(t, cfg)
	base := "http://" + s.httpLn.Addr().String()
	bill, _ := webClient(t, base, "abrechnung", "demo-abrechnung")
	code, body := call(t, bill, "GET", base+"/api/billing/2026-10/invoices", "")
	var rows []web.InvoiceRow
	if err := json.Unmarshal([]byte(body), &rows); code != 200 || err != nil {
		t.Fatalf("invoices: %d %s %v", code, body, err)
	}
	var burgdorf web.InvoiceRow
	for _, r := range rows {
		if r.Municipality == "burgdorf" {
			burgdorf = r
		}
	}
	if burgdorf.Calls != 2 || burgdorf.TotalCents != 900 || burgdorf.BillableMinutes != "6.00" {
		t.Errorf("Burgdorf's October invoice %+v, want 2 calls, 6 minutes, 900 ct", burgdorf)
	}
	if code, csv := call(t, bill, "GET", base+"/api/billing/2026-10/invoices.csv", ""); code != 200 || !strings.Contains(csv, "burgdorf,") || !strings.Contains(csv, ",900") {
		t.Errorf("invoices.csv: %d\n%s", code, csv)
	}
	if code, html := call(t, bill, "GET", base+"/api/billing/2026-10/invoices/burgdorf", ""); code != 200 || !strings.Contains(html, "Burgdorf") || !strings.Contains(html, "9,00") {
		t.Errorf("Burgdorf's HTML invoice: %d", code)
	}
	code, cdrs := call(t, bill, "GET", base+"/api/billing/2026-10/cdrs.csv", "")
	lines := strings.Split(strings.TrimSpace(cdrs), "\n")
	if code != 200 || len(lines) != 3 || !strings.HasPrefix(lines[0], "call_id,") || !strings.Contains(cdrs, "oct-1,") || !strings.Contains(cdrs, "oct-2,") || strings.Contains(cdrs, "nov-1") {
		t.Errorf("cdrs.csv: %d, %d lines\n%s", code, len(lines), cdrs)
	}
	if code, _ := call(t, bill, "GET", base+"/api/billing/october/invoices", ""); code != 400 {
		t.Errorf("a bad period: %d, want 400", code)
	}
	sup, _ := webClient(t, base, "aufsicht", "demo-aufsicht")
	ag, _ := webClient(t, base, "agent1001", "demo-agent1001")
	for who, c := range map[string]*http.Client{"supervisor": sup, "agent": ag} {
		if code, _ := call(t, c, "GET", base+"/api/billing/2026-10/cdrs.csv", ""); code != 403 {
			t.Errorf("%s downloads CDRs: %d, want 403", who, code)
		}
	}
}

// writeOctober writes the CDR rows of TestBillingDownloads into dir: two
// Burgdorf calls in October 2026 (the second at 23:30 on the 31st, Berlin
// time: still October) and one just after midnight in November.
func writeOctober(t *testing.T, dir string) {
	t.Helper()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	w, err := cdr.NewWriter(dir, "test-1", nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []cdr.Record{
		{CallID: "oct-1", Municipality: "burgdorf", ArrivedAt: time.Date(2026, 10, 5, 10, 0, 0, 0, berlin), TalkMS: 50000, WrapupMS: 30000, Agent: "1003", Disposition: cdr.Answered},
		{CallID: "oct-2", Municipality: "burgdorf", ArrivedAt: time.Date(2026, 10, 31, 23, 30, 0, 0, berlin), TalkMS: 130000, WrapupMS: 60000, Agent: "1003", Disposition: cdr.Answered},
		{CallID: "nov-1", Municipality: "burgdorf", ArrivedAt: time.Date(2026, 11, 1, 0, 30, 0, 0, berlin), TalkMS: 600000, Agent: "1003", Disposition: cdr.Answered},
	} {
		r.AnsweredAt, r.EndedAt = r.ArrivedAt, r.ArrivedAt.Add(time.Duration(r.TalkMS)*time.Millisecond)
		w.Now = func() time.Time { return r.ArrivedAt }
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
}
