// Package billing is what the billing office does with the CDRs: tariffs
// under the 115 financing models (per minute, levy, per resident), monthly
// and yearly invoices in exact money (integer cents, 1/6000 cent inside),
// their CSV, HTML and terminal output, and yearly cost estimates.
package billing
