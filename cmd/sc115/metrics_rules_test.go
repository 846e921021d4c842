package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPrometheusRulesUseExportedMetrics: every series the shipped alerting
// and recording rules (deploy/prometheus) refer to is on a fresh
// instance's /metrics before its first call — a renamed metric or one that
// appears only after the first event would silently disable an alert.
func TestPrometheusRulesUseExportedMetrics(t *testing.T) {
	rules, err := os.ReadFile("../../deploy/prometheus/sc115-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := startTest(t, testConfig(t))
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	names := map[string]bool{}
	for _, n := range regexp.MustCompile(`\bsc115_[a-z0-9_]+`).FindAllString(string(rules), -1) {
		if strings.HasPrefix(n, "sc115_") && !strings.Contains(n, ":") {
			names[strings.TrimSuffix(n, "_bucket")] = true
		}
	}
	if len(names) < 5 {
		t.Fatalf("found only %d metric names in the rules file", len(names))
	}
	for n := range names {
		if !strings.Contains(body, "# TYPE "+n+" ") {
			t.Errorf("the rules use %s, /metrics has no such series", n)
		}
	}
	// Every configured municipality's counters exist at zero.
	for _, want := range []string{`sc115_calls_offered_total{municipality="burgdorf"} 0`, `sc115_calls_abandoned_total{municipality="garbsen"} 0`, `sc115_calls_rejected_total{municipality="unknown"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestGrafanaDashboardUsesExportedSeries (issue 15): every query of the
// shipped dashboard (deploy/grafana/sc115.json) uses series a fresh
// instance exports, or recording rules the shipped rules define — a
// renamed metric would leave a panel empty without anyone noticing.
func TestGrafanaDashboardUsesExportedSeries(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/sc115.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is no JSON: %v", err)
	}
	rules, err := os.ReadFile("../../deploy/prometheus/sc115-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := startTest(t, testConfig(t))
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	series := regexp.MustCompile(`\bsc115[_:][a-z0-9_:]*`)
	queries := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			names := series.FindAllString(q.Expr, -1)
			if len(names) == 0 && !strings.Contains(q.Expr, `up{job="sc115"}`) {
				t.Errorf("panel %q: %q uses no sc115 series", p.Title, q.Expr)
			}
			for _, n := range names {
				if strings.Contains(n, ":") {
					if !strings.Contains(string(rules), "record: "+n) {
						t.Errorf("panel %q uses %s, which no shipped recording rule defines", p.Title, n)
					}
					continue
				}
				n = strings.TrimSuffix(n, "_bucket")
				if !strings.Contains(body, "# TYPE "+n+" ") {
					t.Errorf("panel %q uses %s, which /metrics does not export", p.Title, n)
				}
			}
		}
	}
	if queries < 10 {
		t.Errorf("only %d queries in the dashboard", queries)
	}
	if !strings.Contains(body, `sc115_agents{state="available"} 0`) {
		t.Errorf("/metrics has no agents-by-state series")
	}
}
