package acd

import "strings"

// Normalize turns a dialed number in any common German form into E.164:
// +495136115, 00495136115, 05136115 and 495136115 all become +495136115.
// Separators (space, -, /, ., parentheses) are ignored; anything else that
// is not a digit makes the number invalid.
func Normalize(raw, countryCode string) (string, bool) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(raw) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case strings.ContainsRune(" -/.()", r):
		default:
			return "", false
		}
	}
	n := b.String()
	switch {
	case strings.HasPrefix(n, "+"):
	case strings.HasPrefix(n, "00"):
		n = "+" + n[2:]
	case strings.HasPrefix(n, "0"):
		n = "+" + countryCode + n[1:]
	case strings.HasPrefix(n, countryCode) && len(n) > len(countryCode)+3:
		n = "+" + n
	default:
		return "", false // a bare short number (e.g. 115) names no municipality
	}
	if len(n) < 4 || len(n) > 16 {
		return "", false
	}
	return n, true
}

// Router finds the municipality for a dialed number by longest prefix.
// It is immutable after construction, so lookups need no lock.
type Router struct {
	cc       string
	prefixes map[string]*Municipality
	crisis   map[string]bool // prefixes that route only in crisis mode
	maxLen   int
}

// NewRouter indexes every configured number of every municipality.
func NewRouter(cfg *Config) *Router {
	r := &Router{cc: cfg.CountryCode, prefixes: map[string]*Municipality{}, crisis: map[string]bool{}}
	for i := range cfg.Municipalities {
		m := &cfg.Municipalities[i]
		for _, raw := range m.Numbers {
			if n, ok := Normalize(raw, cfg.CountryCode); ok {
				r.prefixes[n] = m
				r.maxLen = max(r.maxLen, len(n))
			}
		}
		for _, raw := range m.Crisis.Numbers {
			if n, ok := Normalize(raw, cfg.CountryCode); ok {
				r.prefixes[n], r.crisis[n] = m, true
				r.maxLen = max(r.maxLen, len(n))
			}
		}
	}
	return r
}

// CrisisOnly reports whether an E.164 number is a crisis hotline that
// routes only while its municipality is in crisis mode.
func (r *Router) CrisisOnly(number string) bool {
	for l := min(len(number), r.maxLen); l >= 2; l-- {
		if _, ok := r.prefixes[number[:l]]; ok {
			return r.crisis[number[:l]]
		}
	}
	return false
}

// Route returns the municipality for the first of the candidate numbers
// that matches a configured prefix (longest prefix wins), and that number in
// E.164. Candidates come in the configured order (Request-URI, To, …).
func (r *Router) Route(candidates []string) (*Municipality, string) {
	for _, c := range candidates {
		n, ok := Normalize(c, r.cc)
		if !ok {
			continue
		}
		for l := min(len(n), r.maxLen); l >= 2; l-- {
			if m := r.prefixes[n[:l]]; m != nil {
				return m, n
			}
		}
	}
	return nil, ""
}
