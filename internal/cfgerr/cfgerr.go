// Package cfgerr is the one error type every config section returns from
// Validate: the field's YAML path (e.g. "acd.agents[2].skills.lehrte") and
// what is wrong. cmd/sc115 turns the path into file:line for the user.
package cfgerr

import "fmt"

// FieldError names the config field that is wrong.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// New returns a *FieldError for field with a formatted message.
func New(field, format string, a ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, a...)}
}
