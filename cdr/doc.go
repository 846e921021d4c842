// Package cdr is what a call leaves behind: the call detail record, the
// privacy policy for caller numbers, durable CSV writing (one file per day
// and instance, one fsync'ed row per call, a spool when the disk refuses),
// reading the rows back, what each disposition counts as, and retention
// (purge into aggregates). What the billing office does with the rows is
// package cdr/billing.
package cdr
