package sip

import (
	"sync"
	"time"
)

// lockout counts failed digest attempts per source IP and per user: after
// max failures within window, that source and that user are refused (403)
// for lockTime. Kept in memory per instance; old entries are swept.
type lockout struct {
	max      int
	window   time.Duration
	lockTime time.Duration
	now      func() time.Time

	mu    sync.Mutex
	fails map[string][]time.Time
	until map[string]time.Time
}

func newLockout(max int, window, lockTime time.Duration) *lockout {
	return &lockout{max: max, window: window, lockTime: lockTime, now: time.Now, fails: map[string][]time.Time{}, until: map[string]time.Time{}}
}

func (l *lockout) isLocked(src, user string) bool {
	if l.max <= 0 {
		return false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range []string{"src:" + src, "user:" + user} {
		if until, ok := l.until[k]; ok {
			if now.Before(until) {
				return true
			}
			delete(l.until, k)
		}
	}
	return false
}

// fail records a failure; it reports whether this one caused a lockout.
func (l *lockout) fail(src, user string) bool {
	if l.max <= 0 {
		return false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	locked := false
	for _, k := range []string{"src:" + src, "user:" + user} {
		recent := l.fails[k][:0]
		for _, t := range l.fails[k] {
			if now.Sub(t) < l.window {
				recent = append(recent, t)
			}
		}
		recent = append(recent, now)
		l.fails[k] = recent
		if len(recent) >= l.max {
			l.until[k] = now.Add(l.lockTime)
			delete(l.fails, k)
			locked = true
		}
	}
	return locked
}

// success forgets the user's failures (the source's stay: one good phone
// behind a NAT must not clear an attacker's count from the same address).
func (l *lockout) success(_, user string) {
	l.mu.Lock()
	delete(l.fails, "user:"+user)
	l.mu.Unlock()
}

// sweep drops expired entries.
func (l *lockout) sweep() {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, until := range l.until {
		if !now.Before(until) {
			delete(l.until, k)
		}
	}
	for k, ts := range l.fails {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= l.window {
			delete(l.fails, k)
		}
	}
}
