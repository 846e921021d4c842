// Package simulate drives a running sc115 over real SIP and RTP (issue
// 17): virtual agents register with digest and answer after a ring delay,
// callers arrive as a Poisson process, wait with a patience, talk with
// the agent (RTP both ways, the audio checked frame by frame), and hang
// up or are hung up. The result is the service level, abandon rate, wait
// and setup-time distribution and media loss, next to Erlang C's
// prediction for the same traffic: a validation of the staffing model.
package simulate
