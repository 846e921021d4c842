package acd

import (
	"github.com/prometheus/client_golang/prometheus"
)

// agentsCollector exports the agents by state, read from the store at
// scrape time: every instance reports the same shared picture, so a
// dashboard takes max by (state), not sum. One store read per agent and
// scrape (every 15 s or so), none on the call path.
type agentsCollector struct {
	e    *Engine
	desc *prometheus.Desc
}

// agentStates are the states exported, always all of them (a state with
// no agent is 0, not missing).
var agentStates = []AgentState{AgentLoggedOut, AgentAvailable, AgentReserved, AgentOnCall, AgentWrapUp, AgentPaused}

func (c agentsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c agentsCollector) Collect(ch chan<- prometheus.Metric) {
	n := map[AgentState]int{}
	for _, a := range c.e.Agents() {
		n[a.State]++
	}
	for _, st := range agentStates {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n[st]), string(st))
	}
}

// registerAgentMetrics adds sc115_agents{state} to reg.
func (e *Engine) registerAgentMetrics(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	reg.MustRegister(agentsCollector{e: e, desc: prometheus.NewDesc("sc115_agents",
		"Configured agents by state, from the shared store (the same on every instance: take max, not sum).", []string{"state"}, nil)})
}
