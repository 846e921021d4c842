package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sc115/sc115/acd/web"
	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/cdr/billing"
)

// accounts gives the billing page (acd/web) the invoices and CDRs of a
// period, computed from this instance's CDR directory the way `sc115
// billing` does (with several instances, point cdr.dir at the folder that
// holds them all, or bill with the command).
type accounts struct {
	dir   string
	cfg   billing.BillingConfig
	munis []billing.MunicipalityInfo
}

var _ web.Accounts = accounts{}

func newAccounts(cfg Config) accounts {
	var munis []billing.MunicipalityInfo
	for _, m := range cfg.ACD.Municipalities {
		munis = append(munis, billing.MunicipalityInfo{Key: m.Key, Name: m.Name, Population: m.Population})
	}
	return accounts{dir: cfg.CDR.Dir, cfg: cfg.Billing, munis: munis}
}

func (a accounts) bill(period string) (billing.Period, []*billing.Invoice, error) {
	p, err := billing.ParsePeriod(period)
	if err != nil {
		return p, nil, err
	}
	invs, _, err := billing.Bill(a.dir, p, a.cfg, a.munis)
	return p, invs, err
}

func (a accounts) Invoices(period string) ([]web.InvoiceRow, error) {
	_, invs, err := a.bill(period)
	if err != nil {
		return nil, err
	}
	rows := []web.InvoiceRow{}
	for _, in := range invs {
		rows = append(rows, web.InvoiceRow{Municipality: in.Municipality, Name: in.Name, Model: in.Tariff.Model, Calls: in.CallsBilled,
			BillableMinutes: in.BillableMinutes(), TotalCents: in.TotalCents, Total: billing.Euro(in.TotalCents)})
	}
	return rows, nil
}

func (a accounts) InvoicesCSV(w io.Writer, period string) error {
	_, invs, err := a.bill(period)
	if err != nil {
		return err
	}
	if _, err := w.Write(cdr.CSVLine(billing.CSVHeader)); err != nil {
		return err
	}
	for _, in := range invs {
		if _, err := w.Write(cdr.CSVLine(in.CSVFields())); err != nil {
			return err
		}
	}
	return nil
}

func (a accounts) InvoiceHTML(w io.Writer, period, municipality string) error {
	_, invs, err := a.bill(period)
	if err != nil {
		return err
	}
	for _, in := range invs {
		if in.Municipality == municipality {
			return in.HTML(w, time.Now())
		}
	}
	return fmt.Errorf("no invoice for %q in %s", municipality, period)
}

func (a accounts) CDRs(w io.Writer, period string) error {
	p, err := billing.ParsePeriod(period)
	if err != nil {
		return err
	}
	_, bad, err := billing.ExportCDRs(w, a.dir, p)
	if err == nil && len(bad) > 0 {
		return errors.New("unreadable CDR rows: " + bad[0] + " …")
	}
	return err
}
