package acd

import (
	"context"
	"sort"
	"time"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
)

// The wallboard's figures (issue 15), the same on every instance: they
// come from the shared store, not from this instance's calls. A finished
// call adds to its municipality's and queue's day and 15-minute interval
// (countShared); Board reads them with what waits now and every agent.

// boardFields are the day counters of one call (its disposition class
// and whether it was answered within the service-level threshold).
func boardFields(r *cdr.Record, threshold time.Duration) map[string]int64 {
	f := map[string]int64{"offered": 1}
	if r.Outcome != "" {
		f["with_outcome"] = 1
		if r.Outcome == "resolved" {
			f["resolved"] = 1
		}
	}
	switch r.Disposition.Class() {
	case cdr.ClassAnswered:
		f["answered"] = 1
		if r.WaitMS <= threshold.Milliseconds() {
			f["answered_in_sl"] = 1
		}
	case cdr.ClassAbandoned:
		f["abandoned"] = 1
	case cdr.ClassAbandonedShort:
		f["abandoned_short"] = 1
	case cdr.ClassOverflowed:
		f["overflowed"] = 1
	case cdr.ClassRejected:
		f["rejected"] = 1
	}
	return f
}

// daySlot is the Berlin day and 15-minute interval of t.
func daySlot(t time.Time, loc *time.Location) (string, int) {
	t = t.In(loc)
	return t.Format("2006-01-02"), (t.Hour()*60 + t.Minute()) / 15
}

// countShared adds the finished call to the shared day figures, by the
// interval it arrived in (a call counts where it was offered). A retry
// after a lost answer may count it twice: a wallboard figure, not a bill.
func (e *Engine) countShared(r *cdr.Record) {
	day, slot := daySlot(r.ArrivedAt, e.berlin)
	subjects := []string{"m:" + r.Municipality}
	if r.Queue != "" {
		subjects = append(subjects, "q:"+r.Queue)
	}
	fields := boardFields(r, e.cfg.ServiceLevel)
	e.storeWrite("count-call", r.CallID, nil, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return e.Store.CountCall(ctx, day, slot, subjects, fields)
	})
}

// Figures are calls counted over a span (a day, an interval), with the
// service level as ServiceLevel computes it.
type Figures struct {
	Offered        int64   `json:"offered"`
	Answered       int64   `json:"answered"`
	AnsweredInSL   int64   `json:"answered_within_threshold"`
	Abandoned      int64   `json:"abandoned"`
	AbandonedShort int64   `json:"abandoned_short"`
	Overflowed     int64   `json:"overflowed"`
	Rejected       int64   `json:"rejected"`
	Level          float64 `json:"service_level"` // 0–1; 0 when nothing was offered
	// First-contact resolution (the 115 KPI): answered calls whose agent
	// gave the outcome "resolved", over those with any outcome.
	WithOutcome int64   `json:"with_outcome"`
	Resolved    int64   `json:"resolved_first_contact"`
	FCR         float64 `json:"first_contact_resolution"` // 0–1; 0 without outcomes
}

func (e *Engine) figuresOf(m map[string]int64) Figures {
	f := Figures{Offered: m["offered"], Answered: m["answered"], AnsweredInSL: m["answered_in_sl"], Abandoned: m["abandoned"],
		AbandonedShort: m["abandoned_short"], Overflowed: m["overflowed"], Rejected: m["rejected"],
		WithOutcome: m["with_outcome"], Resolved: m["resolved"]}
	if f.WithOutcome > 0 {
		f.FCR = float64(f.Resolved) / float64(f.WithOutcome)
	}
	f.Level = e.level(f.AnsweredInSL, f.Offered, f.AbandonedShort)
	return f
}

// add sums figures (the last 15 minutes span two intervals).
func add(a, b map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

// BoardMunicipality is one municipality on the wallboard.
type BoardMunicipality struct {
	Key     string `json:"key"`
	Name    string `json:"name"`
	Crisis  bool   `json:"crisis"`
	Waiting int64  `json:"waiting"`
	// LongestWaitSecs: how long the longest-waiting call of its queue waits now.
	LongestWaitSecs float64 `json:"longest_wait_s"`
	// LoggedIn: agents logged in to its queue.
	LoggedIn int64 `json:"logged_in"`
	// EstimatedWaitSecs: what a new caller would wait (position over the
	// agents logged in, times the handling time); 0 with nobody logged in.
	EstimatedWaitSecs float64 `json:"estimated_wait_s"`
	Today             Figures `json:"today"`
	// Last15: the current and the previous interval (15–30 minutes).
	Last15 Figures `json:"last_15_min"`
	// Intervals: today's quarter hours in which calls came, in order (a
	// day has 96; the empty ones are left out to keep the picture small).
	Intervals []Interval `json:"intervals"`
	// Callback tickets now: open, and past their due time (acd.tickets).
	TicketsOpen    int64 `json:"tickets_open"`
	TicketsOverdue int64 `json:"tickets_overdue"`
}

// Interval is one quarter hour of a day: Slot 0 is 00:00–00:15, 95 is
// 23:45–24:00 (Berlin time).
type Interval struct {
	Slot int `json:"slot"`
	Figures
}

// Board is the wallboard's picture at At.
type Board struct {
	At             time.Time           `json:"at"`
	ThresholdSecs  float64             `json:"threshold_s"`
	TargetLevel    float64             `json:"target_level"`
	Municipalities []BoardMunicipality `json:"municipalities"`
	Agents         []AgentStatus       `json:"agents"`
	// Waiting: every waiting call, per queue in queue order (priority, then arrival).
	Waiting []BoardWaitingCall `json:"waiting"`
	// Queues: what a call may be moved to.
	Queues           []string           `json:"queues"`
	AgentsByState    map[AgentState]int `json:"agents_by_state"`
	StoreUnavailable bool               `json:"store_unavailable,omitempty"`
}

// BoardTarget is the 115 promise the wallboard colours against: 75 % of
// calls answered within the threshold (acd.service_level, 30 s).
const BoardTarget = 0.75

// Board reads the wallboard's picture from the store. It costs a few
// store round trips per municipality: call it once per second for all
// viewers (package web does), not per viewer.
func (e *Engine) Board(ctx context.Context) Board {
	now := e.now()
	b := Board{At: now, ThresholdSecs: e.cfg.ServiceLevel.Seconds(), TargetLevel: BoardTarget, AgentsByState: map[AgentState]int{}}
	day, slot := daySlot(now, e.berlin)
	subjects := make([]string, len(e.cfg.Municipalities))
	for i, m := range e.cfg.Municipalities {
		subjects[i] = "m:" + m.Key
	}
	days, err := e.Store.DayStats(ctx, day, subjects)
	if err != nil {
		b.StoreUnavailable = true
	}
	var tickets map[string]queue.TicketCount
	if e.cfg.Tickets.Queue != "" {
		keys := make([]string, len(e.cfg.Municipalities))
		for i, m := range e.cfg.Municipalities {
			keys[i] = m.Key
		}
		if tickets, err = e.Store.Tickets(ctx, keys, now); err != nil {
			b.StoreUnavailable = true
		}
	}
	for i, m := range e.cfg.Municipalities {
		bm := BoardMunicipality{Key: m.Key, Name: m.Name, Intervals: []Interval{}}
		bm.TicketsOpen, bm.TicketsOverdue = tickets[m.Key].Open, tickets[m.Key].Overdue
		var err error
		if bm.Crisis, err = e.Store.Crisis(ctx, m.Key); err != nil {
			b.StoreUnavailable = true
		}
		if bm.Waiting, err = e.Store.Waiting(ctx, m.Skill); err != nil {
			b.StoreUnavailable = true
		}
		if at, err := e.Store.OldestWaiting(ctx, m.Skill); err == nil && !at.IsZero() {
			bm.LongestWaitSecs = max(0, now.Sub(at).Seconds())
		}
		if f := e.figures(m.Skill); f.err == nil && f.loggedIn > 0 {
			bm.LoggedIn = f.loggedIn
			bm.EstimatedWaitSecs = estimatedWait(f.waiting+1, f.loggedIn, f.handle).Seconds()
		}
		if i >= len(days) {
			b.Municipalities = append(b.Municipalities, bm)
			continue
		}
		d := days[i]
		bm.Today = e.figuresOf(d.Total)
		prev := map[string]int64{}
		if slot > 0 {
			prev = d.Slots[slot-1]
		}
		bm.Last15 = e.figuresOf(add(d.Slots[slot], prev))
		for s, f := range d.Slots {
			if len(f) > 0 {
				bm.Intervals = append(bm.Intervals, Interval{Slot: s, Figures: e.figuresOf(f)})
			}
		}
		b.Municipalities = append(b.Municipalities, bm)
	}
	if b.Waiting, err = e.waitingCalls(ctx, now); err != nil {
		b.StoreUnavailable = true
	}
	if b.Waiting == nil {
		b.Waiting = []BoardWaitingCall{}
	}
	b.Queues = e.boardSkills()
	sort.Strings(b.Queues)
	b.Agents = e.Agents()
	for _, a := range b.Agents {
		b.AgentsByState[a.State]++
	}
	sort.Slice(b.Municipalities, func(i, j int) bool { return b.Municipalities[i].Name < b.Municipalities[j].Name })
	return b
}

// estimatedWait is the wait of a caller at position pos: the rounds of
// agents it waits for times the handling time.
func estimatedWait(pos, loggedIn int64, handle time.Duration) time.Duration {
	rounds := (pos + max(loggedIn, 1) - 1) / max(loggedIn, 1)
	return time.Duration(rounds) * handle
}
