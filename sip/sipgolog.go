package sip

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// SipgoLog wraps the slog handler sipgo logs through: it drops the
// attributes that carry raw SIP messages ("data", "msg" bodies: caller
// numbers are personal data, and sc115's own logs shorten them) and lets
// each message text through at most once a second, so a flood of
// unparsable datagrams cannot flood the log.
func SipgoLog(h slog.Handler) slog.Handler { return &sipgoLog{h: h, last: &sync.Map{}} }

type sipgoLog struct {
	h    slog.Handler
	last *sync.Map // message → time.Time of the last record let through
}

var rawAttrs = map[string]bool{"data": true, "message": true, "msg": true, "req": true, "res": true, "request": true, "response": true}

func (l *sipgoLog) Enabled(ctx context.Context, lvl slog.Level) bool { return l.h.Enabled(ctx, lvl) }

func (l *sipgoLog) Handle(ctx context.Context, r slog.Record) error {
	now := time.Now()
	if v, ok := l.last.Load(r.Message); ok && now.Sub(v.(time.Time)) < time.Second {
		return nil
	}
	l.last.Store(r.Message, now)
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if rawAttrs[a.Key] {
			a = slog.String(a.Key, "(left out: raw SIP)")
		}
		out.AddAttrs(a)
		return true
	})
	return l.h.Handle(ctx, out)
}

func (l *sipgoLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &sipgoLog{h: l.h.WithAttrs(as), last: l.last}
}

func (l *sipgoLog) WithGroup(name string) slog.Handler {
	return &sipgoLog{h: l.h.WithGroup(name), last: l.last}
}
