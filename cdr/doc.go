// Package cdr owns call detail records: the record a finished call leaves,
// the privacy policy for caller numbers, and durable CSV writing (one file
// per day and instance, one fsync'ed row per call). Billing reads these rows.
package cdr
