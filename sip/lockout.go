package sip

import (
	"sync"
	"time"
)

// lockout decides which digest attempts are refused after failures. It
// locks the guesser, never the user for everyone (issue 12, 5):
//
//   - source_user: max failures for one user from one source within window
//     lock that pair for lockTime;
//   - source: sourceMax failures from one source (any users) within window
//     lock the source for lockTime — except for users it has logged in
//     before;
//   - user_daily: dailyMax failures for one known user within 24 h (slow
//     guessing, from any number of sources) admit only sources that logged
//     this user in before, until one of them does so again or the failures
//     age out.
//
// A source that logged a user in is "known" for that user for knownFor.
// Kept in memory per instance; every map is bounded (maxEntries), and
// old entries are swept.
type lockout struct {
	max, sourceMax, dailyMax int
	window, lockTime         time.Duration
	now                      func() time.Time

	mu    sync.Mutex
	fails map[string][]time.Time          // "su:src user", "s:src", "d:user" → failure times in their window
	until map[string]time.Time            // "su:…", "s:…" → locked until
	daily map[string]bool                 // user → user_daily lock on
	known map[string]map[string]time.Time // user → source → last successful login
}

const (
	dailyWindow       = 24 * time.Hour
	knownFor          = 30 * 24 * time.Hour
	maxKnownPerUser   = 32
	maxLockoutEntries = 100000
)

// lockScope names what a failure locked (the metric's scope label).
type lockScope string

const (
	scopeSourceUser lockScope = "source_user"
	scopeSource     lockScope = "source"
	scopeUserDaily  lockScope = "user_daily"
)

func newLockout(max, sourceMax, dailyMax int, window, lockTime time.Duration) *lockout {
	return &lockout{max: max, sourceMax: sourceMax, dailyMax: dailyMax, window: window, lockTime: lockTime, now: time.Now,
		fails: map[string][]time.Time{}, until: map[string]time.Time{}, daily: map[string]bool{}, known: map[string]map[string]time.Time{}}
}

// isKnown reports whether src logged user in within knownFor (mu held).
func (l *lockout) isKnown(src, user string, now time.Time) bool {
	t, ok := l.known[user][src]
	return ok && now.Sub(t) < knownFor
}

// lockedUntil reports whether key is locked now, dropping an expired lock (mu held).
func (l *lockout) lockedUntil(key string, now time.Time) bool {
	until, ok := l.until[key]
	if ok && !now.Before(until) {
		delete(l.until, key)
		return false
	}
	return ok
}

// isLocked reports whether an attempt for user from src is refused
// whatever its password.
func (l *lockout) isLocked(src, user string) bool {
	if l.max <= 0 {
		return false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	known := l.isKnown(src, user, now)
	switch {
	case l.lockedUntil("su:"+src+" "+user, now):
		return true
	case l.lockedUntil("s:"+src, now) && !known:
		return true
	case l.daily[user] && !known:
		return true
	}
	return false
}

// count appends a failure to key's window and reports whether it reached
// limit (mu held); reset forgets the failures then (the lock carries on
// instead), otherwise only the last limit are kept. A full table tracks no
// new keys: the other scopes (per user, bounded by the users there are)
// keep working.
func (l *lockout) count(key string, limit int, window time.Duration, reset bool, now time.Time) bool {
	ts, ok := l.fails[key]
	if !ok && len(l.fails) >= maxLockoutEntries {
		return false
	}
	recent := ts[:0]
	for _, t := range ts {
		if now.Sub(t) < window {
			recent = append(recent, t)
		}
	}
	recent = append(recent, now)
	reached := limit > 0 && len(recent) >= limit
	if reached && reset {
		delete(l.fails, key)
		return true
	}
	if limit > 0 && len(recent) > limit {
		recent = recent[len(recent)-limit:]
	}
	l.fails[key] = recent
	return reached
}

// fail records a failed attempt for user from src (knownUser: user has
// credentials here; unknown users are counted per source only, so they
// cannot fill the table) and returns the lockouts it started.
func (l *lockout) fail(src, user string, knownUser bool) []lockScope {
	if l.max <= 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var started []lockScope
	if l.count("su:"+src+" "+user, l.max, l.window, true, now) && len(l.until) < maxLockoutEntries {
		l.until["su:"+src+" "+user] = now.Add(l.lockTime)
		started = append(started, scopeSourceUser)
	}
	if l.count("s:"+src, l.sourceMax, l.window, true, now) && len(l.until) < maxLockoutEntries {
		l.until["s:"+src] = now.Add(l.lockTime)
		started = append(started, scopeSource)
	}
	if knownUser && l.count("d:"+user, l.dailyMax, dailyWindow, false, now) && !l.daily[user] {
		l.daily[user] = true
		started = append(started, scopeUserDaily)
	}
	return started
}

// success records that src logged user in: the source is known for the
// user from now on, the pair's failures are forgotten, and a user_daily
// lock ends (a known source proved the password). The source's failures
// for other users stay: a good phone behind a NAT must not clear an
// attacker's count from the same address.
func (l *lockout) success(src, user string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, "su:"+src+" "+user)
	delete(l.until, "su:"+src+" "+user)
	if l.daily[user] {
		delete(l.daily, user)
		delete(l.fails, "d:"+user)
	}
	srcs := l.known[user]
	if srcs == nil {
		srcs = map[string]time.Time{}
		l.known[user] = srcs
	}
	if _, ok := srcs[src]; !ok && len(srcs) >= maxKnownPerUser {
		oldest := ""
		for s, t := range srcs {
			if oldest == "" || t.Before(srcs[oldest]) {
				oldest = s
			}
		}
		delete(srcs, oldest)
	}
	srcs[src] = now
}

// dailyLocked lists users whose user_daily lock is on.
func (l *lockout) dailyLocked() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for u := range l.daily {
		out = append(out, u)
	}
	return out
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
		w := l.window
		if k[0] == 'd' {
			w = dailyWindow
		}
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= w {
			delete(l.fails, k)
			if k[0] == 'd' {
				delete(l.daily, k[2:])
			}
		}
	}
	for u := range l.daily { // failures aged out of the day
		if _, ok := l.fails["d:"+u]; !ok {
			delete(l.daily, u)
		}
	}
	for u, srcs := range l.known {
		for s, t := range srcs {
			if now.Sub(t) >= knownFor {
				delete(srcs, s)
			}
		}
		if len(srcs) == 0 {
			delete(l.known, u)
		}
	}
}
