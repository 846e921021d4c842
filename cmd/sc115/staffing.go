package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/cdr/billing"
)

// staffingCmd: sc115 staffing — agents needed for the service level, FTE,
// staff cost, and each financing model's revenue against it.
func staffingCmd(args []string) int {
	fs := flag.NewFlagSet("staffing", flag.ContinueOnError)
	config := fs.String("config", "deploy/examples/region-hannover.yaml", "config file (municipalities with population, tariffs, billing.staffing)")
	perResident := fs.Float64("calls-per-resident-year", 0.3, "calls per resident and year (Berlin: ~1.1 M calls, 3.7 M residents)")
	aht := fs.Duration("aht", 4*time.Minute, "talk + wrap-up per call")
	target := fs.Float64("target", 0.75, "service level target (share answered within --threshold)")
	threshold := fs.Duration("threshold", 30*time.Second, "answer time of the service level")
	patience := fs.Duration("patience", 0, "callers' mean patience: staff with Erlang A (0: Erlang C, callers never hang up; --from-cdrs measures it)")
	shrinkage := fs.Int64("shrinkage", 0, "percent of paid time off the phone (default: billing.staffing.shrinkage_percent, 30)")
	hourly := fs.Int64("hourly-cost-cents", 0, "cost of a paid agent hour in cents (default: billing.staffing.hourly_cost_cents)")
	fromCDRs := fs.String("from-cdrs", "", "measure calls per half hour, handling time and calls per municipality from this CDR directory")
	add := fs.String("add", "", "a municipality joining: municipality=NAME,population=N — its marginal cost and the cost-neutral price")
	csvOut := fs.String("csv", "", "write the half hours as CSV to this file")
	htmlOut := fs.String("html", "", "write the report as HTML (with a chart of the week) to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	lc, err := loadAndValidate(*config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := lc.Billing
	if *shrinkage > 0 {
		cfg.Staffing.ShrinkagePercent = *shrinkage
	}
	if *hourly > 0 {
		cfg.Staffing.HourlyCostCents = *hourly
	}
	if cfg.Staffing.HourlyCostCents <= 0 {
		fmt.Fprintln(os.Stderr, "sc115 staffing: set billing.staffing.hourly_cost_cents or --hourly-cost-cents")
		return 2
	}
	if *target <= 0 || *target >= 1 || *threshold <= 0 || *aht <= 0 {
		fmt.Fprintln(os.Stderr, "sc115 staffing: --target in (0, 1), --threshold and --aht positive")
		return 2
	}
	as := billing.Assumptions{Profile: billing.Profile115(), AHT: *aht, Target: *target, Threshold: *threshold, Patience: *patience, Staffing: cfg.Staffing}
	var members []billing.Member
	skillCalls := map[string]int64{} // assumed: each municipality's calls wait in its skill
	for _, m := range lc.ACD.Municipalities {
		members = append(members, billing.Member{Key: m.Key, Name: m.Name, Population: m.Population,
			CallsPerYear: int64(float64(m.Population) * *perResident)})
		skillCalls[m.Skill] += members[len(members)-1].CallsPerYear
	}
	if *fromCDRs != "" {
		recs, _, err := cdr.Read(*fromCDRs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sc115 staffing:", err)
			return 1
		}
		h, err := billing.MeasureHistory(recs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sc115 staffing: --from-cdrs:", err)
			return 1
		}
		as.Profile, as.AHT = h.Profile, h.AHT
		if *patience == 0 {
			as.Patience = h.Patience
		}
		for i := range members {
			members[i].CallsPerYear = h.CallsPerYear[members[i].Key]
		}
		skillCalls = h.SkillCallsPerYear
	}
	for _, name := range slices.Sorted(maps.Keys(skillCalls)) {
		as.Skills = append(as.Skills, billing.Group{Name: name, CallsPerYear: skillCalls[name]})
	}
	r := billing.Report(members, as, cfg)
	r.Print(os.Stdout)
	if *add != "" {
		m, err := parseAdd(*add, *perResident)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sc115 staffing: --add:", err)
			return 2
		}
		billing.AddMember(members, m, as, cfg).Print(os.Stdout)
	}
	if *csvOut != "" {
		if err := writeFile(*csvOut, func(f *os.File) error { return r.WriteCSV(f) }); err != nil {
			fmt.Fprintln(os.Stderr, "sc115 staffing:", err)
			return 1
		}
	}
	if *htmlOut != "" {
		if err := writeFile(*htmlOut, func(f *os.File) error { return r.HTML(f) }); err != nil {
			fmt.Fprintln(os.Stderr, "sc115 staffing:", err)
			return 1
		}
	}
	return 0
}

// parseAdd reads "municipality=Sehnde,population=24000[,calls=N]".
func parseAdd(s string, perResident float64) (billing.Member, error) {
	var m billing.Member
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return m, fmt.Errorf("%q: want key=value", kv)
		}
		switch k {
		case "municipality":
			m.Name, m.Key = v, strings.ToLower(v)
		case "population":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return m, fmt.Errorf("population %q", v)
			}
			m.Population = n
		case "calls":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return m, fmt.Errorf("calls %q", v)
			}
			m.CallsPerYear = n
		default:
			return m, fmt.Errorf("unknown key %q (municipality, population, calls)", k)
		}
	}
	if m.Name == "" || m.Population == 0 {
		return m, fmt.Errorf("need municipality= and population=")
	}
	if m.CallsPerYear == 0 {
		m.CallsPerYear = int64(float64(m.Population) * perResident)
	}
	return m, nil
}

// writeFile creates path and writes it with write.
func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
