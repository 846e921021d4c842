package queue

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// What a promoted replica does (Redis Sentinel failover). Replication is
// asynchronous: the new master may miss the last writes of the old one —
// a few milliseconds' worth — but what it has is a consistent prefix,
// because replication applies each script's effects as one unit, in order.
// So after a failover:
//
//   - A lease renewal may be lost: the lease looks older than it is. The TTL
//     (7 s) allows six missed renewals and the reaper takes over only after
//     two looks a second apart, so a live instance is never reaped because
//     of a lost renewal; its next heartbeat (1 s) sets the lease again.
//   - A script that ran on the old master and was lost simply did not
//     happen: a reservation lost with it leaves the call waiting and the
//     agent available (both are true in the prefix); the instance that got
//     an error or no answer for it retries its write (acd's healing) or,
//     for a match whose assignment it never received, nothing happened.
//   - The worst case is a reservation whose assignment the owner received
//     (from the old master) but which the new master lacks: the call rings
//     an agent the store shows as available. The owner's on-call write is
//     conditional (reserved for that call) and finds nothing to change;
//     the engine then claims the agent for the call it answered (Claim:
//     only from available), so nobody else can reserve it. Only if another
//     instance reserved the agent in the milliseconds between failover and
//     claim does its phone ring once more while talking — it answers busy
//     and that call goes back to its place. acd's
//     TestLostReservationIsClaimed runs it.
//   - An agent engaged with a call the prefix does not know at all is seen
//     by EngagedAgents with no owner: ReleaseStuck frees it after two looks.
//
// Scripts are loaded by EVALSHA with EVAL as fallback (go-redis Script.Run),
// so a new master without the script cache costs one more round trip, no
// error.

// Engaged is an agent the store shows on a call (reserved, on-call or in
// wrap-up) or missing altogether (Missing: its hash is gone, as after a
// Redis restart without persistence).
type Engaged struct {
	Agent, State, Call string
	// CallOwner is the instance owning Call ("" if the call is not in the
	// store any more: nobody will end this engagement).
	CallOwner string
	Since     int64 // ms
	Missing   bool
	// Pending: the reservation's assignment still waits on the owner's
	// list — a match not yet delivered (the owner may be busy), no stuck
	// agent. A reconciliation that counted it as a suspect could free the
	// agent the moment the owner takes the assignment, and the agent would
	// ring for two calls.
	Pending bool
}

// engagedScript lists, of the agents given, those on a call (with the
// call's owner) and those whose hash is missing. ARGV: agent ids.
var engagedScript = redis.NewScript(lib + `
local out = {}
local lists = {} -- owner → set of its pending "call agent" assignments (read once)
for _, agent in ipairs(ARGV) do
  local k = agentKey(agent)
  local st, call, since = unpack(redis.call('HMGET', k, 'state', 'call', 'since'))
  if not st then
    out[#out + 1] = {agent, 'missing', '', '', '0', '0'}
  elseif st == 'reserved' or st == 'on-call' or st == 'wrap-up' then
    local owner, pending = '', '0'
    if call and call ~= '' then owner = redis.call('HGET', callKey(call), 'owner') or '' end
    if st == 'reserved' and owner ~= '' then
      if not lists[owner] then
        lists[owner] = {}
        for _, m in ipairs(redis.call('LRANGE', '{sc}:assign:' .. owner, 0, -1)) do lists[owner][m] = true end
      end
      if lists[owner][call .. ' ' .. agent] then pending = '1' end
    end
    out[#out + 1] = {agent, st, call or '', owner, since or '0', pending}
  end
end
return out
`)

// EngagedAgents returns which of the agents are engaged with a call, and
// whose state the store lost; one round trip per 500 agents.
func (s *Store) EngagedAgents(ctx context.Context, agents []string) ([]Engaged, error) {
	var out []Engaged
	for len(agents) > 0 {
		n := min(len(agents), 500)
		args := make([]any, n)
		for i, a := range agents[:n] {
			args[i] = a
		}
		agents = agents[n:]
		v, err := engagedScript.Run(ctx, s.rdb, nil, args...).Slice()
		if err != nil {
			return nil, err
		}
		for _, row := range v {
			f, _ := row.([]any)
			if len(f) != 6 {
				continue
			}
			str := func(i int) string { x, _ := f[i].(string); return x }
			e := Engaged{Agent: str(0), State: str(1), Call: str(2), CallOwner: str(3), Pending: str(5) == "1"}
			e.Since, _ = strconv.ParseInt(str(4), 10, 64)
			if e.State == "missing" {
				e.State, e.Missing = "", true
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// releaseStuckScript makes an agent engaged with a call ready again —
// only if it is still engaged with that very call (in one of the states
// given) and no assignment of that call to it waits on the owner's list
// (a match not yet delivered is no stuck agent), since the same moment
// (since, ms: a new reservation for the same call is not the stuck one).
// ARGV: now, agent, call, since, states (comma-separated). Returns a match, 1 when the agent was freed
// (available, or logged out: its device is gone), 0 when nothing changed.
var releaseStuckScript = redis.NewScript(lib + `
local now, agent, call, since, states = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = agentKey(agent)
local st = redis.call('HGET', k, 'state') or 'logged-out'
if not string.find(',' .. states .. ',', ',' .. st .. ',', 1, true) then return 0 end
if redis.call('HGET', k, 'call') ~= call or (redis.call('HGET', k, 'since') or '0') ~= since then return 0 end
local owner = redis.call('HGET', callKey(call), 'owner')
if owner then
  for _, m in ipairs(redis.call('LRANGE', '{sc}:assign:' .. owner, 0, -1)) do
    if m == call .. ' ' .. agent then return 0 end
  end
end
event(agent, 'repaired', call, now)
unavail(agent)
if redis.call('HGET', k, 'device') == 'gone' or redis.call('HGET', k, 'skills') == false then
  logout(agent, 'device-gone', now)
  return 1
end
return ready(agent, now) or 1
`)

// ReleaseStuck frees an agent the store shows engaged (in one of states)
// with call since the moment since (ms, as EngagedAgents said) although
// that call is over or not engaged with it — atomically, only if that is
// still so; ok is false when nothing changed.
func (s *Store) ReleaseStuck(ctx context.Context, agentID, callID string, since int64, states ...string) (*Match, bool, error) {
	v, err := releaseStuckScript.Run(ctx, s.rdb, nil, s.nowMS(), agentID, callID, strconv.FormatInt(since, 10), strings.Join(states, ",")).Result()
	if err != nil {
		return nil, false, err
	}
	if n, isInt := v.(int64); isInt {
		return nil, n == 1, nil
	}
	m, err := match(v, nil)
	return m, m != nil, err
}

// claimScript engages an available agent with a call that it is talking
// on although the store lost its reservation (a failover). ARGV: now,
// agent, call. Returns 1 if claimed.
var claimScript = redis.NewScript(lib + `
local now, agent, call = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local k = agentKey(agent)
if redis.call('HGET', k, 'state') ~= 'available' then return 0 end
unavail(agent)
redis.call('HSET', k, 'state', 'on-call', 'reason', call, 'call', call, 'since', now)
redis.call('HSET', callKey(call), 'agent', agent)
event(agent, 'on-call', call, now)
return 1
`)

// Claim makes an available agent on-call for callID (its reservation was
// lost, but its phone answered the call); ok is false if the agent is not
// available.
func (s *Store) Claim(ctx context.Context, agentID, callID string) (bool, error) {
	n, err := claimScript.Run(ctx, s.rdb, nil, s.nowMS(), agentID, callID).Int()
	return n == 1, err
}

// arriveScript stores a new call before it is answered (so that a crash
// from the 200 OK on leaves a row: the reaper finds it) and reads the
// municipality's crisis mode, in one round trip. ARGV: call id, owner,
// municipality, then field/value pairs. Returns 1 in crisis mode, else 0.
var arriveScript = redis.NewScript(lib + `
local call, owner, muni = ARGV[1], ARGV[2], ARGV[3]
local k = callKey(call)
redis.call('HSET', k, 'owner', owner, 'state', 'arrived')
for i = 4, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
redis.call('SADD', '{sc}:calls:' .. owner, call)
return redis.call('EXISTS', '{sc}:crisis:' .. muni)
`)

// Arrive records a call that is about to be answered and returns whether
// its municipality is in crisis mode.
func (s *Store) Arrive(ctx context.Context, callID, owner, municipality string, fields map[string]string) (bool, error) {
	args := []any{callID, owner, municipality}
	for k, v := range fields {
		args = append(args, k, v)
	}
	n, err := arriveScript.Run(ctx, s.rdb, nil, args...).Int()
	return n == 1, err
}

// unqueueScript takes a call out of its queues but keeps its record (it
// goes on elsewhere, e.g. to the federation). ARGV: now, call id, new
// state. Returns 1 if it was waiting (and is not any more), else 0.
var unqueueScript = redis.NewScript(lib + `
local now, call, state = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local k = callKey(call)
if redis.call('HGET', k, 'state') ~= 'waiting' then return 0 end
cevent(call, 'removed', now)
dequeue(call)
redis.call('HSET', k, 'state', state)
return 1
`)

// Unqueue takes a waiting call out of its queues (keeping its record for
// the reaper) and reports whether it was still waiting: false means an
// agent was reserved for it meanwhile.
func (s *Store) Unqueue(ctx context.Context, callID, state string) (bool, error) {
	n, err := unqueueScript.Run(ctx, s.rdb, nil, s.nowMS(), callID, state).Int()
	return n == 1, err
}
