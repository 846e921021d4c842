// Package acd is sc115's call distribution: it maps a dialed number to a
// municipality, owns the life of each call as an explicit state machine
// (call.go), keeps agent states, matches calls with agents through the queue
// store, and decides when a call ends and which CDR it leaves.
//
// It depends only on interfaces it defines (ports.go) for SIP legs, the
// queue store and the CDR sink, so its logic is tested without sockets and
// the end-to-end tests wire in the real ones.
package acd
