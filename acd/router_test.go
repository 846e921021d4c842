package acd

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"+495136115":     "+495136115",
		"00495136115":    "+495136115",
		"05136115":       "+495136115",
		"495136115":      "+495136115",
		"0 5136 / 115":   "+495136115",
		"+49 (5136) 115": "+495136115",
		"0511-115":       "+49511115",
		"+4951361234567": "+4951361234567",
	} {
		if got, ok := Normalize(in, "49"); !ok || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "115", "abc", "+49513611x", "0511\r\n115", "+"} {
		if got, ok := Normalize(bad, "49"); ok {
			t.Errorf("Normalize(%q) = %q, want invalid", bad, got)
		}
	}
}

func TestRouteLongestPrefix(t *testing.T) {
	cfg := Config{CountryCode: "49", Municipalities: []Municipality{
		{Key: "hannover", Numbers: []string{"+49511115", "+49511"}},
		{Key: "burgdorf", Numbers: []string{"05136115"}},
		{Key: "crisis", Numbers: []string{"+495111150"}},
	}}
	r := NewRouter(&cfg)
	cases := []struct {
		cands []string
		key   string
		num   string
	}{
		{[]string{"05136115"}, "burgdorf", "+495136115"},
		{[]string{"495136115"}, "burgdorf", "+495136115"},
		{[]string{"+495111150"}, "crisis", "+495111150"},             // longer prefix beats +49511115
		{[]string{"+495111234"}, "hannover", "+495111234"},           // town hall DID under +49511
		{[]string{"+4940115", "05136115"}, "burgdorf", "+495136115"}, // first candidate unknown: next one (To)
		{[]string{"+4940115"}, "", ""},
		{[]string{"115"}, "", ""},
	}
	for _, c := range cases {
		m, n := r.Route(c.cands)
		key := ""
		if m != nil {
			key = m.Key
		}
		if key != c.key || n != c.num {
			t.Errorf("Route(%v) = %q %q, want %q %q", c.cands, key, n, c.key, c.num)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := Defaults()
	c.Municipalities = []Municipality{{Key: "a", Name: "A", Numbers: []string{"+495136115"}}, {Key: "a", Name: "B", Numbers: []string{"05136115"}}}
	c.Agents = []Agent{{ID: "1", SIPUser: "1", Skills: map[string]int{"a": 11, "zz": 1}}}
	err := c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		`acd.municipalities[1].key: duplicate key "a"`,
		`acd.municipalities[1].numbers[0]: +495136115 is already routed to a`,
		`acd.agents[0].password: password, ha1 or ha1_sha256 must be set`,
		`acd.agents[0].skills.a: level 11 is outside 1–10`,
		`acd.agents[0].skills.zz: no municipality uses skill "zz"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}
