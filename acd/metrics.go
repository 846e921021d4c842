package acd

import "github.com/prometheus/client_golang/prometheus"

// metrics are acd's Prometheus series, labelled by municipality key.
type metrics struct {
	offered   *prometheus.CounterVec
	answered  *prometheus.CounterVec
	abandoned *prometheus.CounterVec
	rejected  *prometheus.CounterVec
	active    prometheus.Gauge
	waiting   *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	lbl := []string{"municipality"}
	m := &metrics{
		offered:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_offered_total", Help: "Calls that reached sc115, per municipality (unknown = not routable)."}, lbl),
		answered:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_answered_total", Help: "Calls answered by an agent."}, lbl),
		abandoned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_abandoned_total", Help: "Calls the caller hung up before an agent answered."}, lbl),
		rejected:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sc115_calls_rejected_total", Help: "Calls refused (unknown number, draining)."}, lbl),
		active:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "sc115_calls_active", Help: "Calls in progress on this instance."}),
		waiting:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sc115_calls_waiting", Help: "Calls waiting in queue on this instance."}, lbl),
	}
	if reg != nil {
		reg.MustRegister(m.offered, m.answered, m.abandoned, m.rejected, m.active, m.waiting)
	}
	return m
}
