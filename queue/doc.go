// Package queue keeps waiting calls and available agents in Redis and
// matches them with atomic Lua scripts, so any number of sc115 instances can
// share one Redis without an agent getting two calls or a call ringing two
// agents. The embedded backend is an in-process Redis-protocol server
// (miniredis) running the very same scripts through the same client.
//
// Policy (which agent is best, when to overflow) belongs to acd; this
// package only does what must be atomic.
package queue
