package billing

import (
	"io"
	"time"

	"github.com/sc115/sc115/cdr"
)

// ExportCDRs writes the CDR rows of the period (by arrival, Europe/Berlin
// months) from every file below dir to w, as one CSV in today's columns
// (older files' rows padded): what the billing office downloads next to
// the invoices. Rows are as written — a call whose instance died may have
// a second, reaped row, which invoices count once. It returns the rows
// written and the unreadable ones (file:line).
func ExportCDRs(w io.Writer, dir string, p Period) (rows int, bad []string, err error) {
	paths, err := cdr.Files(dir)
	if err != nil {
		return 0, nil, err
	}
	if _, err := w.Write(cdr.CSVLine(cdr.Header)); err != nil {
		return 0, nil, err
	}
	for _, path := range paths {
		err := cdr.ScanFile(path, &bad, func(f []string) error {
			at, err := time.Parse(time.RFC3339Nano, f[6]) // arrived_at
			if err != nil || at.Before(p.From) || !at.Before(p.To) {
				return err
			}
			rows++
			_, err = w.Write(cdr.CSVLine(f))
			return err
		})
		if err != nil {
			return rows, bad, err
		}
	}
	return rows, bad, nil
}
