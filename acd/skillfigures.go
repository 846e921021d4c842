package acd

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// A skill's figures — agents staffed and logged in, calls waiting, average
// handling time — are what every waiting call's overflow check (each
// second) and wait estimate read. Read from the store per call, 2,000
// waiting callers cost ~8,000 round trips a second plus 2,000 runs of a
// script that walks the skill's agents: the cause of the Redis pool
// timeouts under a crisis surge (issue 13, 6). They are read per skill at
// most once per figuresMaxAge instead, by one caller at a time
// (singleflight), and shared by all of that skill's calls on the instance;
// no lock is taken to read them.

// figuresMaxAge is how old a skill's figures may be: an overflow rule
// reacts up to this much later than the store changes.
const figuresMaxAge = time.Second

// skillFigures is one reading of a skill's figures.
type skillFigures struct {
	at                         time.Time
	staffed, waiting, loggedIn int64
	handle                     time.Duration
	err                        error // the first error of the reading, if any
}

// figureCache holds the newest reading of one skill.
type figureCache struct {
	cur    atomic.Pointer[skillFigures]
	flight singleflight.Group
}

// newFigureCaches makes a cache for each skill of the config (a read-only
// map after start).
func newFigureCaches(cfg *Config) map[string]*figureCache {
	out := map[string]*figureCache{}
	add := func(s string) {
		if out[s] == nil {
			out[s] = &figureCache{}
		}
	}
	for _, m := range cfg.Municipalities {
		add(m.Skill)
		for _, s := range m.Crisis.AddSkills {
			add(s)
		}
	}
	for _, a := range cfg.Agents {
		for s := range a.Skills {
			add(s)
		}
	}
	return out
}

// figures returns the skill's figures, at most figuresMaxAge old.
func (e *Engine) figures(skill string) skillFigures {
	fc := e.skillFigures[skill]
	if fc == nil {
		return e.readFigures(skill)
	}
	if f := fc.cur.Load(); f != nil && time.Since(f.at) < figuresMaxAge {
		return *f
	}
	v, _, _ := fc.flight.Do("", func() (any, error) {
		f := e.readFigures(skill)
		fc.cur.Store(&f)
		return f, nil
	})
	return v.(skillFigures)
}

// readFigures reads a skill's figures from the store.
func (e *Engine) readFigures(skill string) skillFigures {
	ctx := context.Background()
	f := skillFigures{at: time.Now()}
	keep := func(err error) {
		if err != nil && f.err == nil {
			f.err = err
		}
	}
	var err error
	f.staffed, err = e.Store.Staffed(ctx, skill)
	keep(err)
	f.waiting, err = e.Store.Waiting(ctx, skill)
	keep(err)
	f.loggedIn, err = e.Store.LoggedIn(ctx, skill)
	keep(err)
	f.handle, err = e.handleTime(ctx, skill)
	keep(err)
	return f
}
