package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/sc115/sc115/acd"
)

// Accounts is what the billing office downloads (package cdr/billing over
// the CDR directory, wired by cmd/sc115).
type Accounts interface {
	// Invoices are the period's invoices ("2026-10" or "2026").
	Invoices(period string) ([]InvoiceRow, error)
	// InvoicesCSV is invoices-<period>.csv.
	InvoicesCSV(w io.Writer, period string) error
	// InvoiceHTML is one municipality's printable invoice.
	InvoiceHTML(w io.Writer, period, municipality string) error
	// CDRs is the period's CDR rows as one CSV.
	CDRs(w io.Writer, period string) error
}

// InvoiceRow is one invoice in the billing page's table.
type InvoiceRow struct {
	Municipality    string `json:"municipality"`
	Name            string `json:"name"`
	Model           string `json:"model"`
	Calls           int    `json:"calls_billed"`
	BillableMinutes string `json:"billable_minutes"`
	TotalCents      int64  `json:"total_cents"`
	Total           string `json:"total"` // "1.234,56 €"
}

var (
	periodName   = regexp.MustCompile(`^[0-9]{4}(-[0-9]{2})?$`)
	municipality = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

// Billing serves the billing office's page at /billing and its downloads
// (billing role): the period's invoices (JSON, CSV, printable HTML per
// municipality) and its CDR rows.
func Billing(mux acd.Mux, a *Auth, acc Accounts) {
	roles := []string{acd.RoleBilling}
	mux.HandleFunc("GET /billing", a.Page(roles, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = templates.ExecuteTemplate(w, "billing.html", nil)
	}))
	// download checks the role and the names, renders into a buffer (an
	// error must not leave half a file behind a 200) and sends it.
	download := func(pattern, contentType string, name func(r *http.Request) string, render func(w io.Writer, r *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if _, ok := a.check(w, r, roles); !ok {
				return
			}
			if !periodName.MatchString(r.PathValue("period")) || r.PathValue("municipality") != "" && !municipality.MatchString(r.PathValue("municipality")) {
				jsonError(w, http.StatusBadRequest, "period is YYYY-MM or YYYY")
				return
			}
			var b bytes.Buffer
			if err := render(&b, r); err != nil {
				jsonError(w, http.StatusBadRequest, err.Error())
				return
			}
			w.Header().Set("Content-Type", contentType)
			if name != nil {
				w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name(r)))
			}
			_, _ = w.Write(b.Bytes())
		})
	}
	download("GET /api/billing/{period}/invoices", "application/json", nil, func(w io.Writer, r *http.Request) error {
		rows, err := acc.Invoices(r.PathValue("period"))
		if err != nil {
			return err
		}
		return jsonTo(w, rows)
	})
	download("GET /api/billing/{period}/invoices.csv", "text/csv; charset=utf-8",
		func(r *http.Request) string { return "invoices-" + r.PathValue("period") + ".csv" },
		func(w io.Writer, r *http.Request) error { return acc.InvoicesCSV(w, r.PathValue("period")) })
	download("GET /api/billing/{period}/invoices/{municipality}", "text/html; charset=utf-8",
		func(r *http.Request) string {
			return "invoice-" + r.PathValue("municipality") + "-" + r.PathValue("period") + ".html"
		},
		func(w io.Writer, r *http.Request) error {
			return acc.InvoiceHTML(w, r.PathValue("period"), r.PathValue("municipality"))
		})
	download("GET /api/billing/{period}/cdrs.csv", "text/csv; charset=utf-8",
		func(r *http.Request) string { return "cdrs-" + r.PathValue("period") + ".csv" },
		func(w io.Writer, r *http.Request) error { return acc.CDRs(w, r.PathValue("period")) })
}

func jsonTo(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
