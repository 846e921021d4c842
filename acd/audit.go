package acd

import (
	"context"
	"strconv"
	"time"
)

// The audit log of supervisors' actions (issue 15): who did what to which
// agent or municipality, when, from any instance — kept in the store and
// shown on the supervisor page. Crisis switches are written with the
// crisis flag itself (Store.SetCrisis); agent actions by anyone but the
// agent itself here.

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	What    string    `json:"what"`
	Subject string    `json:"subject"` // an agent id or a municipality key
	Detail  string    `json:"detail,omitempty"`
}

// Audit records an action; the log line stays even if the store fails.
func (e *Engine) Audit(ctx context.Context, by, what, subject, detail string) {
	e.log.Info().Str("by", by).Str("what", what).Str("subject", subject).Str("detail", detail).Msg("audit")
	if err := e.Store.Audit(ctx, map[string]string{"by": by, "what": what, "subject": subject, "detail": detail}); err != nil {
		e.log.Error().Err(err).Str("what", what).Msg("store: audit entry lost (the log line above has it)")
	}
}

// AuditLog returns the newest n entries, newest first.
func (e *Engine) AuditLog(ctx context.Context, n int64) ([]AuditEntry, error) {
	raw, err := e.Store.AuditLog(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, 0, len(raw))
	for _, r := range raw {
		ms, _ := strconv.ParseInt(r["t"], 10, 64)
		a := AuditEntry{At: time.UnixMilli(ms), By: r["by"], What: r["what"], Subject: r["subject"], Detail: r["detail"]}
		if a.What == "crisis" { // written by Store.SetCrisis
			a.Subject, a.Detail = r["municipality"], "on="+r["on"]
		}
		out = append(out, a)
	}
	return out, nil
}
