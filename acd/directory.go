package acd

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Department is a municipal office ("Fachebene") an agent hands a caller
// on to when a question cannot be answered at first contact: dialed out
// through the trunk (sip.trunks[].outbound).
type Department struct {
	Name   string `yaml:"name"`
	Number string `yaml:"number"` // what the trunk dials, E.164 or national
	// Code is a short code the agent may dial instead of the number or the
	// department's key, e.g. "#1".
	Code string `yaml:"code"`
	// Hours: when the office takes calls (default: always). Outside them a
	// transfer is refused and the agent hears so (480).
	Hours *Hours `yaml:"hours"`
}

// DirectoryEntry is a department as the API lists it.
type DirectoryEntry struct {
	Key    string `json:"key"`
	Name   string `json:"name"`
	Number string `json:"number"`
	Code   string `json:"code,omitempty"`
	Open   bool   `json:"open"`
}

var (
	departmentKey  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	departmentCode = regexp.MustCompile(`^[#*]?[0-9]{1,4}$`)
)

// validateDirectory checks a municipality's departments (f: its field path).
func validateDirectory(f string, dir map[string]Department) []error {
	var errs []error
	codes := map[string]string{}
	for key, d := range dir {
		df := f + ".directory." + key
		if !departmentKey.MatchString(key) {
			errs = append(errs, fieldErr(df, "key %q: lower-case letters, digits, - and _ (up to 32)", key))
		}
		if d.Name == "" {
			errs = append(errs, fieldErr(df+".name", "must be set"))
		}
		if n := digits(d.Number); len(n) < 3 || strings.TrimLeft(d.Number, "+0123456789 -/") != "" {
			errs = append(errs, fieldErr(df+".number", "%q is no phone number", d.Number))
		}
		if d.Code != "" {
			if !departmentCode.MatchString(d.Code) {
				errs = append(errs, fieldErr(df+".code", "%q: up to four digits, optionally after # or *", d.Code))
			} else if other, dup := codes[d.Code]; dup {
				errs = append(errs, fieldErr(df+".code", "%q is %s's code too", d.Code, other))
			}
			codes[d.Code] = key
		}
		if d.Hours != nil {
			if _, err := compileHours(*d.Hours, df+".hours"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// digits keeps the digits (and a leading +) of a number as written in
// the config ("+49 5136 1890" → "+4951361890").
func digits(n string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(n) {
		if r >= '0' && r <= '9' || r == '+' && i == 0 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// department finds the municipality's department an agent dialed: its
// key or its code.
func (e *Engine) department(m *Municipality, dialed string) (string, *Department) {
	if d, ok := m.Directory[strings.ToLower(dialed)]; ok {
		return strings.ToLower(dialed), &d
	}
	for key, d := range m.Directory {
		if d.Code != "" && d.Code == dialed {
			return key, &d
		}
	}
	return "", nil
}

// departmentOpen says whether the department takes calls at t.
func (e *Engine) departmentOpen(m *Municipality, key string, t time.Time) bool {
	s := e.deptHours[m.Key][key]
	return s == nil || s.isOpen(t)
}

// Directory lists a municipality's departments, by key, with whether each
// is open now (for the agent console).
func (e *Engine) Directory(municipality string) ([]DirectoryEntry, error) {
	m := e.municipality(municipality)
	if m == nil {
		return nil, fmt.Errorf("%w %q", errUnknownMunicipality, municipality)
	}
	out := make([]DirectoryEntry, 0, len(m.Directory))
	for key, d := range m.Directory {
		out = append(out, DirectoryEntry{Key: key, Name: d.Name, Number: digits(d.Number), Code: d.Code, Open: e.departmentOpen(m, key, e.now())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// municipality is the configured municipality with key (nil if none).
func (e *Engine) municipality(key string) *Municipality {
	for i := range e.cfg.Municipalities {
		if e.cfg.Municipalities[i].Key == key {
			return &e.cfg.Municipalities[i]
		}
	}
	return nil
}

// compileDirectories compiles the departments' hours (validated).
func (e *Engine) compileDirectories() {
	e.deptHours = map[string]map[string]*schedule{}
	for _, m := range e.cfg.Municipalities {
		for key, d := range m.Directory {
			if d.Hours == nil {
				continue
			}
			if e.deptHours[m.Key] == nil {
				e.deptHours[m.Key] = map[string]*schedule{}
			}
			e.deptHours[m.Key][key], _ = compileHours(*d.Hours, "")
		}
	}
}
