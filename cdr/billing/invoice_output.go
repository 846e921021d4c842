package billing

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/sc115/sc115/cdr"
)

var invoiceHTML = template.Must(template.New("invoice").Funcs(template.FuncMap{"euro": Euro}).Parse(`<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>Rechnung {{.Number}}</title>
<style>
body{font-family:Arial,Helvetica,sans-serif;font-size:11pt;margin:2cm;color:#111}
.sender{font-size:9pt;color:#444;border-bottom:1px solid #999;padding-bottom:4pt}
.recipient{margin:1.5cm 0 1cm 0;line-height:1.4}
h1{font-size:16pt;margin-bottom:2pt} table{border-collapse:collapse;width:100%;margin-top:12pt}
th,td{border-bottom:1px solid #ccc;padding:5pt;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap} tr.total td{font-weight:bold;border-top:2px solid #111}
.meta td{border:none;padding:1pt 8pt 1pt 0} .small{font-size:9pt;color:#444}
@media print{body{margin:1.5cm}}
</style></head><body>
<div class="sender">{{.Sender.Name}}{{range .Sender.Address}} · {{.}}{{end}}</div>
<div class="recipient"><strong>{{.Recipient.Name}}</strong>{{range .Recipient.Address}}<br>{{.}}{{end}}</div>
<h1>Rechnung Servicecenter 115</h1>
<table class="meta">
<tr><td>Rechnungsnummer</td><td>{{.Number}}</td></tr>
<tr><td>Rechnungsdatum</td><td>{{.Date}}</td></tr>
<tr><td>Leistungszeitraum</td><td>{{.From}} – {{.To}}</td></tr>
<tr><td>Kommune</td><td>{{.Name}} ({{.Municipality}})</td></tr>
<tr><td>Tarif</td><td>{{.TariffName}}: {{.TariffText}}</td></tr>
</table>
<table>
<tr><th>Position</th><th>Berechnung</th><th class="num">Betrag</th></tr>
{{range .Lines}}<tr><td>{{.Text}}</td><td>{{.Detail}}</td><td class="num">{{euro .Cents}}</td></tr>
{{end}}<tr class="total"><td colspan="2">Rechnungsbetrag</td><td class="num">{{euro .TotalCents}}</td></tr>
</table>
<p class="small">Beträge in Euro, auf volle Cent kaufmännisch gerundet ({{if eq .Tariff.Rounding "per_invoice"}}einmal je Rechnung{{else}}je Gespräch{{end}}).
Abrechenbare Zeit je Gespräch: jede angefangene Sekunde der gezählten Anteile, dann Mindestdauer, Taktung {{.Tariff.Increment}} und Höchstdauer.</p>
<h2 style="font-size:12pt">Gesprächsstatistik</h2>
<table>
<tr><th>Anrufe</th><th class="num">Angenommen</th><th class="num">Aufgelegt</th><th class="num">davon Kurzaufleger</th><th class="num">Weitergeleitet (115-Verbund)</th><th class="num">Abgewiesen</th></tr>
<tr><td>{{.Stats.Offered}}</td><td class="num">{{.Stats.Answered}}</td><td class="num">{{.Stats.Abandoned}}</td><td class="num">{{.Stats.AbandonedShort}}</td><td class="num">{{.Stats.Overflowed}}</td><td class="num">{{.Stats.Rejected}}</td></tr>
</table>
<p class="small">Gesprächszeit {{.TalkMin}} min, Nachbereitung {{.WrapupMin}} min, abgerechnet {{.BillableMinutes}} min in {{.CallsBilled}} Gesprächen.
{{if .Sender.Contact}}Rückfragen: {{.Sender.Contact}}{{end}}</p>
</body></html>
`))

type invoiceView struct {
	*Invoice
	Date, From, To     string
	TariffText         string
	TalkMin, WrapupMin string
}

// HTML renders the printable invoice.
func (in *Invoice) HTML(w io.Writer, issued time.Time) error {
	return invoiceHTML.Execute(w, invoiceView{Invoice: in, Date: issued.Format("02.01.2006"),
		From: in.Period.From.Format("02.01.2006"), To: in.Period.To.AddDate(0, 0, -1).Format("02.01.2006"),
		TariffText: in.Tariff.Describe(), TalkMin: minutes(in.TalkS), WrapupMin: minutes(in.WrapupS)})
}

// WriteInvoices writes invoices-<period>.csv and invoice-<municipality>-<period>.html into dir.
func WriteInvoices(dir string, period Period, invoices []*Invoice, issued time.Time) ([]string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	var rows [][]string
	rows = append(rows, CSVHeader)
	var files []string
	for _, in := range invoices {
		rows = append(rows, in.CSVFields())
		var b bytes.Buffer
		if err := in.HTML(&b, issued); err != nil {
			return nil, err
		}
		p := filepath.Join(dir, fmt.Sprintf("invoice-%s-%s.html", in.Municipality, period.Name))
		if err := os.WriteFile(p, b.Bytes(), 0o640); err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	var csvb bytes.Buffer
	for _, r := range rows {
		csvb.Write(cdr.CSVLine(r))
	}
	p := filepath.Join(dir, fmt.Sprintf("invoices-%s.csv", period.Name))
	if err := os.WriteFile(p, csvb.Bytes(), 0o640); err != nil {
		return nil, err
	}
	return append([]string{p}, files...), nil
}

// Summary prints the invoices as a table for the terminal.
func Summary(w io.Writer, period Period, invoices []*Invoice, st cdr.ReadStats) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "Billing %s: %d CDR files, %d rows, %d duplicates ignored, %d unreadable rows\n\n", period.Name, st.Files, st.Rows, st.Duplicates, len(st.Bad))
	fmt.Fprintln(tw, "municipality\tmodel\tcalls\tbillable min\tper minute\tfixed\tcredit\ttotal\t")
	var total int64
	for _, in := range invoices {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", in.Municipality, in.Tariff.Model, in.CallsBilled, in.BillableMinutes(),
			Euro(in.PerMinuteCents), Euro(in.FixedCents), Euro(-in.CreditCents), Euro(in.TotalCents))
		total += in.TotalCents
	}
	fmt.Fprintf(tw, "\t\t\t\t\t\t\t%s\t\n", Euro(total))
	_ = tw.Flush()
	for _, b := range st.Bad {
		fmt.Fprintln(w, "unreadable:", b)
	}
}
