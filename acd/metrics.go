package acd

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sc115/sc115/cdr"
)

// metrics are acd's Prometheus series, labelled by municipality key.
type metrics struct {
	offered   *prometheus.CounterVec
	answered  *prometheus.CounterVec
	abandoned *prometheus.CounterVec
	rejected  *prometheus.CounterVec
	// selfService counts calls the menu's information answered (never
	// offered to an agent: left out of the service level).
	selfService *prometheus.CounterVec
	// callbacks counts virtual-hold callbacks by event: requested,
	// answered (the citizen), retry, failed (out of tries).
	callbacks *prometheus.CounterVec
	active    prometheus.Gauge
	// answeredInSL and abandonedShort complete the service level:
	// answered within threshold ÷ (offered − short abandons).
	answeredInSL *prometheus.CounterVec
	overflowed   *prometheus.CounterVec
	// transfers counts agents' transfers that were accepted, by
	// municipality and kind (blind, queue, federation).
	transfers      *prometheus.CounterVec
	abandonedShort *prometheus.CounterVec
	waiting        *prometheus.GaugeVec
	// overloaded counts new calls refused with 503 because the instance
	// was over acd.max_calls or acd.max_cpu_percent, by reason.
	overloaded *prometheus.CounterVec
	// storeRetries counts store writes that failed and were retried, by
	// what they wrote; agentRepairs the stuck agents the reconciliation
	// freed, by the state they were stuck in.
	storeRetries *prometheus.CounterVec
	agentRepairs *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	lbl := []string{"municipality"}
	m := &metrics{
		offered:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_offered_total", Help: "Calls that reached sc115, per municipality (unknown = not routable)."}, lbl),
		answered:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_answered_total", Help: "Calls answered by an agent."}, lbl),
		abandoned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_abandoned_total", Help: "Calls the caller hung up before an agent answered."}, lbl),
		rejected:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_rejected_total", Help: "Calls refused (unknown number, closed, draining, overloaded, busy)."}, lbl),
		selfService: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_self_service_total",
			Help: "Calls the municipality's menu answered with information, without an agent (left out of the service level)."}, lbl),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_callbacks_total",
			Help: "Callbacks (virtual hold) by municipality and event: requested, answered (the citizen answered), retry, failed (out of tries)."},
			[]string{"municipality", "event"}),
		answeredInSL: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_answered_within_sl_total", Help: "Calls answered by an agent within the service-level threshold (acd.service_level)."}, lbl),
		overflowed:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_overflowed_total", Help: "Calls forwarded to another 115 center."}, lbl),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_transfers_total",
			Help: "Transfers by agents that were accepted (REFER answered 202), by municipality and kind."}, []string{"municipality", "kind"}),
		abandonedShort: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_abandoned_short_total", Help: "Calls abandoned within cdr.short_abandon (left out of the service level)."}, lbl),
		active:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "sc115_calls_active", Help: "Calls in progress on this instance."}),
		waiting:        prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sc115_calls_waiting", Help: "Calls waiting in queue on this instance."}, lbl),
		overloaded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_refused_overload_total",
			Help: "New calls refused with 503 because the instance was over acd.max_calls (instance-overloaded) or acd.max_cpu_percent (instance-cpu)."}, []string{"reason"}),
		storeRetries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_store_write_retries_total",
			Help: "Store writes (agent transitions, call records) that failed and are retried with backoff, by what they wrote."}, []string{"write"}),
		agentRepairs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_agent_repairs_total",
			Help: "Agents the reconciliation found stuck on a call nobody has and made ready again, by the state they were stuck in."}, []string{"state"}),
	}
	if reg != nil {
		reg.MustRegister(m.offered, m.answered, m.abandoned, m.rejected, m.selfService, m.callbacks, m.active, m.waiting, m.answeredInSL, m.abandonedShort, m.overflowed, m.overloaded, m.storeRetries, m.agentRepairs, m.transfers)
	}
	return m
}

// zeroFor creates every municipality's series at 0 (and "unknown" for the
// calls that match none), so that /metrics shows them before the first
// call and rates and service-level ratios in Prometheus have no gaps.
func (m *metrics) zeroFor(keys []string) {
	for _, vec := range []*prometheus.CounterVec{m.offered, m.rejected} {
		vec.WithLabelValues("unknown")
	}
	m.overloaded.WithLabelValues("instance-overloaded")
	m.overloaded.WithLabelValues("instance-cpu")
	for _, st := range []AgentState{AgentReserved, AgentOnCall, AgentWrapUp} {
		m.agentRepairs.WithLabelValues(string(st))
	}
	for _, k := range keys {
		for _, vec := range []*prometheus.CounterVec{m.offered, m.answered, m.abandoned, m.rejected, m.selfService, m.answeredInSL, m.overflowed, m.abandonedShort} {
			vec.WithLabelValues(k)
		}
		m.waiting.WithLabelValues(k)
	}
}

// answeredInSLOnce counts a finished call in the service-level series.
func (m *metrics) answeredInSLOnce(r *cdr.Record, threshold time.Duration) {
	switch c := r.Disposition.Class(); {
	case c == cdr.ClassAnswered && r.WaitMS <= threshold.Milliseconds():
		m.answeredInSL.WithLabelValues(r.Municipality).Inc()
	case c == cdr.ClassAbandonedShort:
		m.abandonedShort.WithLabelValues(r.Municipality).Inc()
	}
}
