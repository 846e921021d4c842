package acd

import (
	"context"

	"github.com/sc115/sc115/cdr"
)

// CallerLeg is the caller's side of a call as the SIP layer presents it.
// Methods are safe to call from the call's owner goroutine; Ended may be
// watched from anywhere.
type CallerLeg interface {
	CallID() string
	// DialedNumbers are the candidate called numbers in configured order.
	DialedNumbers() []string
	// Caller is the calling number and whether the caller withheld it.
	Caller() (number string, withheld bool)
	// Reject answers the INVITE with a final error response.
	Reject(code int, reason string)
	// Answer sends 200 OK and waits for the ACK.
	Answer(ctx context.Context) error
	// Play sends the named prompts once, then loops hold audio if hold.
	Play(prompts []string, hold bool)
	// Hangup ends the leg (BYE after answer, an error response before).
	Hangup()
	// Ended is closed when the caller hangs up or cancels.
	Ended() <-chan struct{}
}

// AgentLeg is an answered call leg toward an agent.
type AgentLeg interface {
	Hangup()
	Ended() <-chan struct{}
}

// Offer describes a call offered to an agent.
type Offer struct {
	CallID          string
	AgentID         string
	SIPUser         string
	DisplayName     string // "115 Burgdorf"
	MunicipalityKey string
	CallerNumber    string // as the caller presented it (privacy already applied if withheld)
}

// AgentDialer rings agents and bridges answered legs.
type AgentDialer interface {
	// Offer rings the agent until it answers, declines or ctx ends.
	Offer(ctx context.Context, o Offer) (AgentLeg, error)
	// Bridge relays media between the caller and the agent leg.
	Bridge(caller CallerLeg, agent AgentLeg) error
}

// Store is the shared queue state (package queue implements it).
type Store interface {
	Enqueue(ctx context.Context, callID, skill string, score int64) (agentID string, err error)
	AgentReady(ctx context.Context, agentID string, skills []string, idleMS int64) (callID string, err error)
	AgentNotAvailable(ctx context.Context, agentID, state string) error
	RemoveCall(ctx context.Context, callID string) (bool, error)
}

// CDRSink stores finished calls durably (package cdr implements it).
type CDRSink interface {
	Write(cdr.Record) error
}
