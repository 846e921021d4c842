package web

import (
	"sync"
	"time"
)

// lockout counts wrong passwords per (address, user) and per address: a
// pair with too many is refused for a while, and so is an address that
// guesses many users' passwords (a spray, at five times the pair's limit).
// The same user from another address is never refused for it: a guesser
// must not lock the real agent out of its console. Counts are this
// instance's; several instances multiply what a guesser may try, still
// bounded, at bcrypt's pace.
type lockout struct {
	mu       sync.Mutex
	attempts int
	window   time.Duration
	now      func() time.Time
	fails    map[string]*failures
}

type failures struct {
	n     int
	first time.Time
	until time.Time // locked until
}

func newLockout(attempts int, window time.Duration, now func() time.Time) *lockout {
	return &lockout{attempts: attempts, window: window, now: now, fails: map[string]*failures{}}
}

func pairKey(addr, user string) string { return addr + "\x00" + user }

// locked says whether addr may not try user's password now.
func (l *lockout) locked(addr, user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range []string{pairKey(addr, user), addr} {
		if f := l.fails[k]; f != nil && now.Before(f.until) {
			return true
		}
	}
	return false
}

// fail counts a wrong password; it reports whether that locked the pair
// or the address.
func (l *lockout) fail(addr, user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.fails) > 100000 { // bounded memory under a flood: forget the old
		for k, f := range l.fails {
			if now.Sub(f.first) > l.window && now.After(f.until) {
				delete(l.fails, k)
			}
		}
	}
	locked := false
	for k, limit := range map[string]int{pairKey(addr, user): l.attempts, addr: 5 * l.attempts} {
		f := l.fails[k]
		if f == nil || now.Sub(f.first) > l.window {
			f = &failures{first: now}
			l.fails[k] = f
		}
		f.n++
		if f.n >= limit {
			f.until = now.Add(l.window)
			locked = true
		}
	}
	return locked
}

// succeed forgets the pair's failures.
func (l *lockout) succeed(addr, user string) {
	l.mu.Lock()
	delete(l.fails, pairKey(addr, user))
	l.mu.Unlock()
}
