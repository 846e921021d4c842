package sip

import (
	"sync"
	"time"
)

// quietLog lets a log line through once per key (source and kind) and
// minute: a flood of bad requests must not become a flood of log lines.
// Bounded: when full, it forgets everything (one more line per key).
type quietLog struct {
	mu   sync.Mutex
	last map[string]time.Time
	now  func() time.Time
}

const (
	quietEvery   = time.Minute
	quietMaxKeys = 10000
)

func newQuietLog() *quietLog { return &quietLog{last: map[string]time.Time{}, now: time.Now} }

// allow reports whether a line for key may be written now.
func (q *quietLog) allow(key string) bool {
	now := q.now()
	q.mu.Lock()
	defer q.mu.Unlock()
	if t, ok := q.last[key]; ok && now.Sub(t) < quietEvery {
		return false
	}
	if len(q.last) >= quietMaxKeys {
		clear(q.last)
	}
	q.last[key] = now
	return true
}
