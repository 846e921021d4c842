package acd

import (
	"context"
	"time"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
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
	// Refuse answers the INVITE 503 with Retry-After (overload, draining).
	Refuse(retryAfter time.Duration)
	// Answer sends 200 OK and waits for the ACK. An error with a method
	// SIPCode() int means the leg answered the INVITE with that error
	// response itself (e.g. 503 when no RTP port is free).
	Answer(ctx context.Context) error
	// Play sends the named prompts once, then loops the prompt named hold
	// (the hold track; "" = silence).
	Play(prompts []string, hold string)
	// PlayIntro is Play, and the channel it returns is closed once the
	// prompts have been sent in full (then the hold track begins).
	PlayIntro(prompts []string, hold string) <-chan struct{}
	// PlayOnce plays the prompts and returns when they are over (or the
	// caller hung up).
	PlayOnce(prompts []string)
	// Hangup ends the leg (BYE after answer, an error response before).
	Hangup()
	// Ended is closed when the caller hangs up or cancels.
	Ended() <-chan struct{}
	// EndReason says why the SIP layer ended the leg itself
	// ("media-timeout"), "" when the caller hung up.
	EndReason() string
	// HoldTime is how long the caller's phone held the call.
	HoldTime() time.Duration
	// DTMF delivers the keys the caller presses.
	DTMF() <-chan rune
}

// AgentLeg is an answered call leg toward an agent.
type AgentLeg interface {
	Hangup()
	Ended() <-chan struct{}
	EndReason() string
	HoldTime() time.Duration
}

// Offer describes a call offered to an agent.
type Offer struct {
	CallID          string
	AgentID         string
	SIPUser         string
	DisplayName     string // "115 Burgdorf"
	MunicipalityKey string
	CallerNumber    string // as the caller presented it (privacy already applied if withheld)
	// KnowledgeURL links the agent's console to the knowledge base for this
	// municipality (from acd.knowledge_base_url); empty if none.
	KnowledgeURL string
	// AutoAnswer asks the phone to answer at once (headset-only setups).
	AutoAnswer bool
}

// AgentDialer rings agents and bridges answered legs.
type AgentDialer interface {
	// Offer rings the agent until it answers, declines or ctx ends.
	Offer(ctx context.Context, o Offer) (AgentLeg, error)
	// Bridge relays media between the caller and the agent leg.
	Bridge(caller CallerLeg, agent AgentLeg) error
	// Forward sends the call to another 115 center until it answers,
	// refuses or ctx ends.
	Forward(ctx context.Context, f ForwardOffer) (AgentLeg, error)
	// CallOut calls a number through the trunk (a transfer to a municipal
	// office) until it answers, refuses or ctx ends. A refusal's error has
	// a method SIPCode() int.
	CallOut(ctx context.Context, o OutboundOffer) (AgentLeg, error)
}

// OutboundOffer is a call out through the trunk for a transfer.
type OutboundOffer struct {
	Number        string // digits to dial
	CallID        string
	CallerNumber  string
	Withheld      bool
	Dialed        string // the 115 number the caller dialed
	Municipality  string
	TransferredBy string // agent id
}

// Store is the shared queue state (package queue implements it). Every
// match it makes is also pushed to the owning instance's assignment list,
// which the engine's dispatcher reads: one path for local and remote matches.
type Store interface {
	// EnqueueAttempt may be retried with the same attempt after an error.
	EnqueueAttempt(ctx context.Context, attempt, callID, owner string, score int64, targets []queue.Target, fields map[string]string) (*queue.Match, error)
	Widen(ctx context.Context, callID string, targets []queue.Target) (*queue.Match, error)
	AgentReady(ctx context.Context, agentID, owner string, skills []queue.AgentSkill) (*queue.Match, error)
	AgentReadyFrom(ctx context.Context, agentID string, from queue.From) (*queue.Match, error)
	AgentState(ctx context.Context, agentID, state, reason string) error
	AgentStateFrom(ctx context.Context, agentID, state, reason string, from queue.From) (bool, error)
	DeviceGone(ctx context.Context, agentID string) error
	RemoveCall(ctx context.Context, callID string) (bool, error)
	SetCallFields(ctx context.Context, callID string, fields map[string]string) error
	// CallFields reads a live call's fields (the agent console's call).
	CallFields(ctx context.Context, callID string) (map[string]string, error)
	// SetLiveCallField sets a field of a call that is still live (the
	// agent's wrap-up outcome) and reports whether it was.
	SetLiveCallField(ctx context.Context, callID, field, value string) (bool, error)
	Agent(ctx context.Context, agentID string) (queue.AgentInfo, error)
	Position(ctx context.Context, callID string) (int, error)
	Waiting(ctx context.Context, skill string) (int64, error)
	LoggedIn(ctx context.Context, skill string) (int64, error)
	Staffed(ctx context.Context, skill string) (int64, error)
	RecordHandled(ctx context.Context, agentID, skill string, talk, handle time.Duration) error
	HandleTime(ctx context.Context, skill string) (time.Duration, error)
	NoAnswer(ctx context.Context, agentID string) (int64, error)
	ResetNoAnswer(ctx context.Context, agentID string) error
	SetCrisis(ctx context.Context, municipality string, on bool, by string) error
	Crisis(ctx context.Context, municipality string) (bool, error)
	// SignalCall passes a supervisor's action to the owner of a waiting
	// call; WaitingCalls lists a skill's waiting calls in queue order.
	SignalCall(ctx context.Context, callID, signal, arg string) (bool, error)
	SignalLiveCall(ctx context.Context, callID, signal, arg string) (bool, error)
	WaitingCalls(ctx context.Context, skill string, limit int64) ([]queue.WaitingCall, error)
	// Agents reads many agents' states in one round trip.
	Agents(ctx context.Context, ids []string) ([]queue.AgentInfo, error)
	// Audit appends to the shared audit log; AuditLog reads its newest entries.
	Audit(ctx context.Context, fields map[string]string) error
	AuditLog(ctx context.Context, n int64) ([]map[string]string, error)
	// CountCall adds a finished call to the shared day figures (board.go).
	CountCall(ctx context.Context, day string, slot int, subjects []string, fields map[string]int64) error
	// DayStats reads subjects' figures of a day and its 15-minute intervals.
	DayStats(ctx context.Context, day string, subjects []string) ([]queue.DayFigures, error)
	// OldestWaiting is the arrival of the longest-waiting call for a skill.
	OldestWaiting(ctx context.Context, skill string) (time.Time, error)
	Heartbeat(ctx context.Context, instance string, ttl time.Duration) error
	LastSeen(ctx context.Context, instance string) (time.Time, error)
	Release(ctx context.Context, instance string) error
	DeadInstances(ctx context.Context) ([]string, error)
	Reap(ctx context.Context, dead string) ([]map[string]string, error)
	ReapOwn(ctx context.Context, instance string) ([]map[string]string, error)
	DevicePresent(ctx context.Context, agentID string) error
	NextAssignment(ctx context.Context, instance string, timeout time.Duration) (*queue.Match, error)
	NextOwnAssignment(ctx context.Context, instance string, timeout time.Duration) (*queue.Match, error)
	SignalWrapup(ctx context.Context, agentID, signal string) (bool, error)
	// Arrive records a call before it is answered; it returns the
	// municipality's crisis mode.
	Arrive(ctx context.Context, callID, owner, municipality string, fields map[string]string) (bool, error)
	Unqueue(ctx context.Context, callID, state string) (bool, error)
	EngagedAgents(ctx context.Context, agents []string) ([]queue.Engaged, error)
	ReleaseStuck(ctx context.Context, agentID, callID string, since int64, states ...string) (*queue.Match, bool, error)
	Claim(ctx context.Context, agentID, callID string) (bool, error)
	// Callbacks (virtual hold; queue/callbacks.go).
	RequestCallback(ctx context.Context, callID string, fields map[string]string) (bool, error)
	ClaimCallback(ctx context.Context, callID, agentID, instance string) (map[string]string, error)
	RequeueCallback(ctx context.Context, callID string, fields map[string]string) error
	ParkCallback(ctx context.Context, callID string, due time.Time, fields map[string]string) error
	WakeCallbacks(ctx context.Context) (int, error)
	RetryCallbackNow(ctx context.Context, callID string) (bool, error)
	FailCallback(ctx context.Context, callID string, fields map[string]string) error
	DismissCallback(ctx context.Context, callID string) (bool, error)
	Callbacks(ctx context.Context) ([]map[string]string, error)
	// Tickets (queue/tickets.go).
	CreateTicket(ctx context.Context, id string, score int64, targets []queue.Target, due time.Time, fields map[string]string) (bool, error)
	Tickets(ctx context.Context, municipalities []string, now time.Time) (map[string]queue.TicketCount, error)
}

// CDRSink stores finished calls durably (package cdr implements it).
type CDRSink interface {
	Write(cdr.Record) error
}
