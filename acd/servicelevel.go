package acd

import (
	"context"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
)

// slCounters count one municipality's calls on this instance for the
// service level (Prometheus has the same counters for all instances).
type slCounters struct {
	offered, answered, answeredInSL, abandoned, abandonedShort, overflowed, rejected atomic.Int64
}

// ServiceLevel is one municipality's (or one queue's) figures since start
// of this instance.
//
//	service_level = answered within the threshold ÷ (offered − short abandons)
//	                (acd.service_level_formula: offered_minus_short), or ÷ offered (offered)
//	reachability  = answered ÷ (answered + abandoned + rejected)
type ServiceLevel struct {
	Municipality   string  `json:"municipality,omitempty"`
	Queue          string  `json:"queue,omitempty"`
	Crisis         bool    `json:"crisis"`
	Offered        int64   `json:"offered"`
	Answered       int64   `json:"answered"`
	AnsweredInSL   int64   `json:"answered_within_threshold"`
	Abandoned      int64   `json:"abandoned"`
	AbandonedShort int64   `json:"abandoned_short"`
	Overflowed     int64   `json:"overflowed"`
	Rejected       int64   `json:"rejected"`
	ThresholdSecs  float64 `json:"threshold_s"`
	Level          float64 `json:"service_level"`
	Reachability   float64 `json:"reachability"`
	// Callback tickets of the municipality now (all instances): open, and
	// of those past their due time (tickets.go; with acd.tickets only).
	TicketsOpen    int64 `json:"tickets_open"`
	TicketsOverdue int64 `json:"tickets_overdue"`
}

// record counts a finished call for its municipality and its queue.
func (e *Engine) record(r *cdr.Record) {
	if r.Municipality == "" {
		return
	}
	if strings.HasPrefix(r.CallID, queue.TicketPrefix) {
		// A ticket is no inbound call: outside the service level; its
		// measure is being done by its due time (open, overdue).
		return
	}
	if r.Disposition.Class() == cdr.ClassSelfService {
		// The menu answered it: never offered to an agent, so outside the
		// service level (75 % of the calls for agents within 30 s).
		e.m.selfService.WithLabelValues(r.Municipality).Inc()
		return
	}
	e.m.answeredInSLOnce(r, e.cfg.ServiceLevel)
	e.countShared(r)
	for _, c := range []*slCounters{e.sl[r.Municipality], e.slQueue[r.Queue]} {
		if c != nil {
			c.count(r, e.cfg.ServiceLevel)
		}
	}
}

func (c *slCounters) count(r *cdr.Record, threshold time.Duration) {
	c.offered.Add(1)
	switch r.Disposition.Class() {
	case cdr.ClassAnswered:
		c.answered.Add(1)
		if r.WaitMS <= threshold.Milliseconds() {
			c.answeredInSL.Add(1)
		}
	case cdr.ClassAbandoned:
		c.abandoned.Add(1)
	case cdr.ClassAbandonedShort:
		c.abandonedShort.Add(1)
	case cdr.ClassOverflowed:
		c.overflowed.Add(1)
	case cdr.ClassRejected:
		c.rejected.Add(1)
	}
}

// ServiceLevels returns every municipality's and every queue's service
// level on this instance.
func (e *Engine) ServiceLevels(ctx context.Context) []ServiceLevel {
	out := e.levels(ctx, e.sl, false)
	if e.cfg.Tickets.Queue != "" {
		keys := make([]string, len(out))
		for i := range out {
			keys[i] = out[i].Municipality
		}
		if counts, err := e.Store.Tickets(ctx, keys, e.now()); err == nil {
			for i := range out {
				out[i].TicketsOpen, out[i].TicketsOverdue = counts[keys[i]].Open, counts[keys[i]].Overdue
			}
		}
	}
	return append(out, e.levels(ctx, e.slQueue, true)...)
}

func (e *Engine) levels(ctx context.Context, m map[string]*slCounters, queues bool) []ServiceLevel {
	var out []ServiceLevel
	for key, c := range m {
		s := ServiceLevel{Offered: c.offered.Load(), Answered: c.answered.Load(), AnsweredInSL: c.answeredInSL.Load(),
			Abandoned: c.abandoned.Load(), AbandonedShort: c.abandonedShort.Load(), Overflowed: c.overflowed.Load(), Rejected: c.rejected.Load(),
			ThresholdSecs: e.cfg.ServiceLevel.Seconds()}
		if queues {
			s.Queue = key
		} else {
			s.Municipality = key
			s.Crisis, _ = e.Store.Crisis(ctx, key)
		}
		s.Level = e.level(s.AnsweredInSL, s.Offered, s.AbandonedShort)
		if d := s.Answered + s.Abandoned + s.Rejected; d > 0 {
			s.Reachability = float64(s.Answered) / float64(d)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Municipality+out[i].Queue < out[j].Municipality+out[j].Queue })
	return out
}

// SetCrisis switches a municipality's crisis mode (all instances) and
// logs who did it; the store keeps an audit trail.
func (e *Engine) SetCrisis(ctx context.Context, key string, on bool, by string) error {
	if _, ok := e.sl[key]; !ok {
		return errUnknownMunicipality
	}
	e.log.Warn().Str("municipality", key).Bool("crisis", on).Str("by", by).Msg("crisis mode switched")
	return e.Store.SetCrisis(ctx, key, on, by)
}

// level is the service level of counts: answered within the threshold
// over offered less short abandons (acd.service_level_formula
// offered_minus_short), or over offered (offered); 0 when nothing counts.
func (e *Engine) level(inSL, offered, abandonedShort int64) float64 {
	d := offered - abandonedShort
	if e.cfg.ServiceLevelFormula == "offered" {
		d = offered
	}
	if d <= 0 {
		return 0
	}
	return float64(inSL) / float64(d)
}
