package main

import (
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
