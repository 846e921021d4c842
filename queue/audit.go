package queue

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// The audit log: who did what to whom, from any instance, in one stream
// of the shared store (the newest 10,000 entries are kept; the log lines
// say the same for longer).

const auditStream = "{sc}:audit"

// Audit appends an entry (what, by, and what it was done to) with the
// store's time.
func (s *Store) Audit(ctx context.Context, fields map[string]string) error {
	values := map[string]any{"t": s.nowMS()}
	for k, v := range fields {
		values[k] = v
	}
	return s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: auditStream, MaxLen: 10000, Approx: true, Values: values}).Err()
}

// AuditLog returns the newest n entries, newest first; each has its
// fields and "t" (Unix ms).
func (s *Store) AuditLog(ctx context.Context, n int64) ([]map[string]string, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, auditStream, "+", "-", n).Result()
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, 0, len(msgs))
	for _, m := range msgs {
		e := map[string]string{}
		for k, v := range m.Values {
			if s, ok := v.(string); ok {
				e[k] = s
			}
		}
		out = append(out, e)
	}
	return out, nil
}
