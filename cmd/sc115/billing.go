package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/cdr/billing"
)

// billingCmd: sc115 billing --config FILE --cdr-dir DIR --period 2026-10 --out DIR
// and sc115 billing estimate ….
func billingCmd(args []string) int {
	if len(args) > 0 && args[0] == "estimate" {
		return estimateCmd(args[1:])
	}
	fs := flag.NewFlagSet("billing", flag.ContinueOnError)
	config := fs.String("config", "deploy/examples/region-hannover.yaml", "config file (tariffs, municipalities)")
	cdrDir := fs.String("cdr-dir", "", "directory with the CDR files of all instances (default: cdr.dir)")
	period := fs.String("period", "", "billing period: YYYY-MM or YYYY (Europe/Berlin)")
	out := fs.String("out", "var/invoices", "directory for invoices-<period>.csv and invoice-<municipality>-<period>.html")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *period == "" {
		fmt.Fprintln(os.Stderr, "sc115 billing: --period is required (e.g. --period 2026-10)")
		return 2
	}
	lc, err := loadAndValidate(*config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p, err := billing.ParsePeriod(*period)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sc115 billing:", err)
		return 2
	}
	dir := *cdrDir
	if dir == "" {
		dir = lc.CDR.Dir
	}
	invs, st, err := billing.Bill(dir, p, lc.Billing, municipalities(lc))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sc115 billing:", err)
		return 1
	}
	files, err := billing.WriteInvoices(*out, p, invs, time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, "sc115 billing:", err)
		return 1
	}
	billing.Summary(os.Stdout, p, invs, st)
	fmt.Printf("\nwrote %s\n", strings.Join(files, "\n      "))
	if len(st.Bad) > 0 {
		return 3 // invoices written, but some rows could not be read: look at them
	}
	return 0
}

func estimateCmd(args []string) int {
	fs := flag.NewFlagSet("billing estimate", flag.ContinueOnError)
	config := fs.String("config", "deploy/examples/region-hannover.yaml", "config file (tariffs)")
	population := fs.Int("population", 0, "residents of the municipality")
	perResident := fs.Float64("calls-per-resident", 0, "calls per resident and year (e.g. 0.1)")
	aht := fs.Int64("aht-s", 0, "talk + wrap-up seconds per call")
	municipality := fs.String("municipality", "", "a configured municipality (population from the config)")
	fromCDRs := fs.String("from-cdrs", "", "derive calls per year and seconds per call from this CDR directory (needs --municipality)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	lc, err := loadAndValidate(*config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	who := "a municipality"
	if *municipality != "" {
		found := false
		for _, m := range lc.ACD.Municipalities {
			if m.Key == *municipality {
				found, who = true, m.Name
				if *population == 0 {
					*population = m.Population
				}
			}
		}
		if !found {
			fmt.Fprintf(os.Stderr, "sc115 billing estimate: no municipality %q in %s\n", *municipality, *config)
			return 2
		}
	}
	calls := int64(float64(*population) * *perResident)
	if *fromCDRs != "" {
		if *municipality == "" {
			fmt.Fprintln(os.Stderr, "sc115 billing estimate: --from-cdrs needs --municipality")
			return 2
		}
		recs, _, err := cdr.Read(*fromCDRs)
		if err == nil {
			calls, *aht, err = billing.Observed(recs, *municipality)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sc115 billing estimate:", err)
			return 1
		}
	}
	if *population <= 0 || calls <= 0 || *aht <= 0 {
		fmt.Fprintln(os.Stderr, "sc115 billing estimate: need --population (or --municipality), --calls-per-resident and --aht-s (or --from-cdrs)")
		return 2
	}
	es := billing.EstimateAll(lc.Billing, *population, calls, *aht)
	if len(es) == 0 {
		fmt.Fprintln(os.Stderr, "sc115 billing estimate: no tariffs in billing.tariffs")
		return 1
	}
	billing.PrintEstimates(os.Stdout, who, *population, calls, *aht, es)
	return 0
}

// cdrCmd: sc115 cdr purge --cdr-dir DIR --older-than 180d.
func cdrCmd(args []string) int {
	if len(args) == 0 || args[0] != "purge" {
		fmt.Fprintln(os.Stderr, "usage: sc115 cdr purge --cdr-dir DIR --older-than 180d")
		return 2
	}
	fs := flag.NewFlagSet("cdr purge", flag.ContinueOnError)
	dir := fs.String("cdr-dir", "var/cdr", "CDR directory")
	older := fs.String("older-than", "180d", "delete CDR files of days older than this (e.g. 180d, 26w)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	d, err := parseAge(*older)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sc115 cdr purge:", err)
		return 2
	}
	cutoff := time.Now().Add(-d)
	if earliest := previousMonthStart(time.Now()); cutoff.After(earliest) {
		fmt.Fprintf(os.Stderr, "sc115 cdr purge: --older-than %s would delete CDRs after %s: this and last month may still be invoiced; keep at least %dd\n",
			*older, earliest.Format("2006-01-02"), int(time.Since(earliest).Hours()/24)+1)
		return 2
	}
	rep, err := cdr.Purge(*dir, cutoff)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sc115 cdr purge:", err)
		return 1
	}
	fmt.Printf("purged %d days (%d calls, %d files); aggregates in %s\n", len(rep.Days), rep.Records, len(rep.Files), *dir+"/"+cdr.AggregatesFile)
	return 0
}

// previousMonthStart is the first day of the month before now's, in the
// billing office's time zone: CDRs from then on may still be invoiced.
func previousMonthStart(now time.Time) time.Time {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.UTC
	}
	n := now.In(berlin)
	return time.Date(n.Year(), n.Month()-1, 1, 0, 0, 0, 0, berlin)
}

// parseAge reads 180d, 26w or a Go duration.
func parseAge(s string) (time.Duration, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%dd", &n); err == nil && strings.HasSuffix(s, "d") {
		return time.Duration(n) * 24 * time.Hour, nil
	}
	if _, err := fmt.Sscanf(s, "%dw", &n); err == nil && strings.HasSuffix(s, "w") {
		return time.Duration(n) * 7 * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--older-than %q: want e.g. 180d, 26w or 4320h", s)
	}
	return d, nil
}

func loadAndValidate(path string) (*loadedConfig, error) {
	lc, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	return lc, lc.validate()
}

func municipalities(lc *loadedConfig) []billing.MunicipalityInfo {
	var out []billing.MunicipalityInfo
	for _, m := range lc.ACD.Municipalities {
		out = append(out, billing.MunicipalityInfo{Key: m.Key, Name: m.Name, Population: m.Population})
	}
	return out
}
