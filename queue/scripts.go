package queue

import "github.com/redis/go-redis/v9"

// Key layout. Every key carries the {sc} hash tag, so all of a script's keys
// live in one Redis Cluster slot.
//
//	{sc}:q:<skill>:<lvl>      ZSET waiting calls that need <skill> at level ≥ lvl;
//	                          score = priority band · 1e13 + arrival ms (lower first)
//	{sc}:avail:<skill>:<lvl>  ZSET available agents with <skill> at exactly lvl;
//	                          score from the skill's strategy (lower first)
//	{sc}:call:<id>            HASH owner, score, targets and queued ("skill:level:strategy;…"),
//	                          state, agent, … (CDR fields)
//	{sc}:agent:<id>           HASH state, reason, since, owner, call, skills, calls, talk_ms, last_offer, noanswer
//	{sc}:calls:<instance>     SET call ids the instance owns (for the reaper)
//	{sc}:agents:<instance>    SET agent ids logged in through the instance
//	{sc}:loggedin:<skill>     SET agents logged in with the skill (for EWT)
//	{sc}:assign:<instance>    LIST "call agent" matches for the instance that owns the call, and
//	                          "!signal agent call" wrap-up signals (ready, extend) for it
//	{sc}:lease:<instance>     STRING with TTL, renewed by the instance's heartbeat
//	{sc}:seen:<instance>      STRING ms of the instance's last heartbeat (no TTL: the reaper's end time)
//	{sc}:instances            SET of instances that ever held a lease
//	{sc}:events               STREAM of agent state changes (capped at ~10,000)
//	{sc}:callevents           STREAM of calls queued and reserved (capped at ~100,000)
//	{sc}:nc:<nonce>           STRING highest digest nonce count used with the nonce; TTL = nonce lifetime
//
// Complexity: matching looks at the head of at most 10 sorted sets per
// (skill) of the call or agent: O(k · 10 · log n) for k skills and n
// entries per set; nothing scans a queue.

// lib is prepended to every script: shared helpers.
const lib = `
local function qkey(s, l) return '{sc}:q:' .. s .. ':' .. l end
local function akey(s, l) return '{sc}:avail:' .. s .. ':' .. l end
local function agentKey(a) return '{sc}:agent:' .. a end
local function callKey(c) return '{sc}:call:' .. c end

-- "skill:level:strategy;…" → {{skill, level, strategy}, …}
local function targets(str)
  local t = {}
  for item in string.gmatch(str or '', '[^;]+') do
    local s, l, st = string.match(item, '^([^:]+):(%d+):?(.*)$')
    if s then t[#t + 1] = {s, tonumber(l), st ~= '' and st or 'longest-idle'} end
  end
  return t
end

-- "skill:level:strategy;…" → {{skill, level, strategy}, …}
local function askills(str)
  local t = {}
  for s, l, st in string.gmatch(str or '', '([^:;]+):(%d+):([^:;]+)') do t[#t + 1] = {s, tonumber(l), st} end
  return t
end

local function event(agent, state, reason, now)
  redis.call('XADD', '{sc}:events', 'MAXLEN', '~', '10000', '*', 'agent', agent, 'state', state, 'reason', reason or '', 't', now)
end

-- call events (queued, reserved) in Redis order: an audit trail that
-- also lets tests check FIFO exactly
local function cevent(call, what, now)
  redis.call('XADD', '{sc}:callevents', 'MAXLEN', '~', '100000', '*', 'call', call, 'event', what,
    'queued', redis.call('HGET', callKey(call), 'queued') or '', 'score', redis.call('HGET', callKey(call), 'score') or '', 't', now)
end

local function logout(agent, reason, now)
  local k = agentKey(agent)
  for _, x in ipairs(askills(redis.call('HGET', k, 'skills'))) do
    redis.call('ZREM', akey(x[1], x[2]), agent)
    redis.call('SREM', '{sc}:loggedin:' .. x[1], agent)
  end
  local owner = redis.call('HGET', k, 'owner')
  if owner then redis.call('SREM', '{sc}:agents:' .. owner, agent) end
  redis.call('HSET', k, 'state', 'logged-out', 'reason', reason, 'since', now, 'call', '')
  event(agent, 'logged-out', reason, now)
end

local function unavail(agent)
  for _, x in ipairs(askills(redis.call('HGET', agentKey(agent), 'skills'))) do
    redis.call('ZREM', akey(x[1], x[2]), agent)
  end
end

-- a ticket that is over (answered, failed, reaped) is no longer open
local function closeTicket(call)
  local k = callKey(call)
  if redis.call('HGET', k, 'kind') == 'ticket' then
    redis.call('ZREM', '{sc}:tickets:' .. (redis.call('HGET', k, 'municipality') or ''), call)
  end
end

local function dequeue(call)
  for _, x in ipairs(targets(redis.call('HGET', callKey(call), 'queued'))) do
    redis.call('ZREM', qkey(x[1], x[2]), call)
  end
  redis.call('HSET', callKey(call), 'queued', '')
end

-- score of an available agent in one skill under that skill's strategy
local function ascore(strategy, level, agent, now)
  local k = agentKey(agent)
  if strategy == 'best-skill' then return (10 - level) * 1e13 + now
  elseif strategy == 'round-robin' then return tonumber(redis.call('HGET', k, 'last_offer') or '0') or 0
  elseif strategy == 'fewest-calls' then return (tonumber(redis.call('HGET', k, 'calls') or '0') or 0) * 1e13 + now
  elseif strategy == 'least-talk' then return tonumber(redis.call('HGET', k, 'talk_ms') or '0') or 0
  end
  return now -- longest-idle
end

-- reserve agent for call and tell the call's owner
local function assign(call, agent, now)
  unavail(agent)
  cevent(call, 'reserved', now)
  dequeue(call)
  redis.call('HSET', agentKey(agent), 'state', 'reserved', 'reason', '', 'call', call, 'since', now, 'last_offer', now)
  redis.call('HSET', callKey(call), 'state', 'reserved', 'agent', agent)
  local owner = redis.call('HGET', callKey(call), 'owner')
  redis.call('RPUSH', '{sc}:assign:' .. owner, call .. ' ' .. agent)
  event(agent, 'reserved', call, now)
  return {call, agent, owner}
end

-- the best available agent for a call's targets. Scores are comparable
-- only within one strategy (idle since, talk ms, calls, level…): the
-- targets' strategies are tried in the order the call lists them (its own
-- queue first, then escalation and crisis skills), the lowest score of the
-- first strategy that has a free agent wins.
local function bestAgent(t)
  local tried = {}
  for _, first in ipairs(t) do
    local st = first[3]
    if not tried[st] then
      tried[st] = true
      local best, bestScore = nil, nil
      for _, x in ipairs(t) do
        if x[3] == st then
          for l = x[2], 10 do
            local h = redis.call('ZRANGE', akey(x[1], l), 0, 0, 'WITHSCORES')
            if #h > 0 and (bestScore == nil or tonumber(h[2]) < bestScore) then best, bestScore = h[1], tonumber(h[2]) end
          end
        end
      end
      if best then return best end
    end
  end
  return nil
end

local function bestCall(sk)
  local best, bestScore = nil, nil
  for _, x in ipairs(sk) do
    for l = 1, x[2] do
      local h = redis.call('ZRANGE', qkey(x[1], l), 0, 0, 'WITHSCORES')
      if #h > 0 and (bestScore == nil or tonumber(h[2]) < bestScore) then best, bestScore = h[1], tonumber(h[2]) end
    end
  end
  return best
end

-- the agent is ready: give it the best waiting call, or make it available
local function ready(agent, now)
  local sk = askills(redis.call('HGET', agentKey(agent), 'skills'))
  local call = bestCall(sk)
  if call then return assign(call, agent, now) end
  redis.call('HSET', agentKey(agent), 'state', 'available', 'reason', '', 'call', '', 'since', now)
  for _, x in ipairs(sk) do
    redis.call('ZADD', akey(x[1], x[2]), ascore(x[3], x[2], agent, now), agent)
  end
  event(agent, 'available', '', now)
  return false
end

-- queue a waiting call in its targets, or match it at once
local function place(call, now)
  local k = callKey(call)
  local t = targets(redis.call('HGET', k, 'targets'))
  local agent = bestAgent(t)
  if agent then return assign(call, agent, now) end
  local score = redis.call('HGET', k, 'score')
  for _, x in ipairs(t) do redis.call('ZADD', qkey(x[1], x[2]), score, call) end
  redis.call('HSET', k, 'state', 'waiting', 'agent', '', 'queued', redis.call('HGET', k, 'targets'))
  cevent(call, 'queued', now)
  return false
end
`

// enqueueScript stores a call (ARGV: now, call id, owner, score, targets,
// attempt, then field/value pairs for the CDR) and places it. A call that
// comes back after an unanswered offer is enqueued again with its original
// score: it keeps its place. Returns {call, agent, owner} on a match, else
// false. attempt ("" = none) makes a retry safe: an attempt that already
// ran (its reply lost to a timeout) does nothing the second time — placing
// it again could reserve a second agent for a call already reserved, or
// queue a call whose assignment is on its way.
var enqueueScript = redis.NewScript(lib + `
local now, call, owner, score, t, attempt = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local k = callKey(call)
if attempt ~= '' then
  if redis.call('HGET', k, 'enq') == attempt then return false end
  redis.call('HSET', k, 'enq', attempt)
end
redis.call('HSET', k, 'owner', owner, 'score', score, 'targets', t)
for i = 7, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
redis.call('SADD', '{sc}:calls:' .. owner, call)
return place(call, now)
`)

// widenScript changes a waiting call's targets (escalation) without
// changing its score: it keeps its place. ARGV: now, call id, targets.
var widenScript = redis.NewScript(lib + `
local now, call, t = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local k = callKey(call)
if redis.call('HGET', k, 'state') ~= 'waiting' then return false end
cevent(call, 'removed', now)
dequeue(call)
redis.call('HSET', k, 'targets', t)
return place(call, now)
`)

// agentReadyScript logs an agent in (skills given) or makes a known agent
// ready again (skills empty: the stored ones) — the latter only from the
// state the caller expects (states comma-separated, and if given the call
// and reason), so that a late "ready" cannot free an agent that was
// meanwhile reserved for another call. ARGV: now, agent, owner, skills
// "skill:level:strategy;…", expected states, expected call, expected
// reason. Returns a match or false. A login (skills given) of an agent
// engaged with a live call records the skills and keeps the engagement.
var agentReadyScript = redis.NewScript(lib + `
local now, agent, owner, sk = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local wantStates, wantCall, wantReason = ARGV[5], ARGV[6], ARGV[7]
local k = agentKey(agent)
if sk == '' then
  local st = redis.call('HGET', k, 'state') or 'logged-out'
  if not string.find(',' .. wantStates .. ',', ',' .. st .. ',', 1, true) then return false end
  if wantCall ~= '' and redis.call('HGET', k, 'call') ~= wantCall then return false end
  if wantReason ~= '' and redis.call('HGET', k, 'reason') ~= wantReason then return false end
end
unavail(agent)
if sk == '' and redis.call('HGET', k, 'device') == 'gone' then
  logout(agent, 'device-gone', now)
  return false
end
if sk ~= '' then
  redis.call('HSET', k, 'skills', sk, 'owner', owner, 'device', '')
  redis.call('SADD', '{sc}:agents:' .. owner, agent)
  for _, x in ipairs(askills(sk)) do redis.call('SADD', '{sc}:loggedin:' .. x[1], agent) end
  -- Logging in (a phone registering, the API) never frees an agent on a
  -- call that still exists, on whichever instance: it keeps that call and
  -- its wrap-up, then becomes ready with these skills.
  local st, call = redis.call('HGET', k, 'state'), redis.call('HGET', k, 'call')
  if (st == 'reserved' or st == 'on-call' or st == 'wrap-up') and call and call ~= ''
      and redis.call('EXISTS', callKey(call)) == 1 then
    return false
  end
end
if redis.call('HGET', k, 'skills') == false then return false end
return ready(agent, now)
`)

// agentStateScript takes an agent out of distribution: on-call, wrap-up,
// paused (with reason) or logged-out; if expected states are given, only
// from one of them (and for the expected call). ARGV: now, agent, state,
// reason, expected states, expected call. Returns 1 if changed.
var agentStateScript = redis.NewScript(lib + `
local now, agent, state, reason, wantStates, wantCall = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if wantStates ~= '' then
  local st = redis.call('HGET', agentKey(agent), 'state') or 'logged-out'
  if not string.find(',' .. wantStates .. ',', ',' .. st .. ',', 1, true) then return 0 end
  if wantCall ~= '' and redis.call('HGET', agentKey(agent), 'call') ~= wantCall then return 0 end
end
if state == 'logged-out' then
  logout(agent, reason, now)
  return 1
end
unavail(agent)
redis.call('HSET', agentKey(agent), 'state', state, 'reason', reason, 'since', now)
event(agent, state, reason, now)
return 1
`)

// removeCallScript forgets a call (it ended). ARGV: call id. Returns 1 if
// it was still waiting.
var removeCallScript = redis.NewScript(lib + `
local call = ARGV[1]
local k = callKey(call)
local state, owner = redis.call('HGET', k, 'state'), redis.call('HGET', k, 'owner')
if state == 'waiting' then cevent(call, 'removed', 0) end
dequeue(call)
closeTicket(call)
redis.call('DEL', k)
if owner then redis.call('SREM', '{sc}:calls:' .. owner, call) end
if state == 'waiting' then return 1 end
return 0
`)

// reapScript takes over a dead instance (its lease expired): its calls
// leave the queues and are returned (as field lists, for CDRs) — except
// callbacks it ran that no citizen answered yet, which go back to their
// place — agents
// reserved for or talking on them become ready again, agents logged in
// through it are logged out. One reaper wins (NX lock). ARGV: now, dead,
// restart ("1": the instance itself at start — no lease check, and its
// agents keep their states: their phones register again).
var reapScript = redis.NewScript(lib + cbLib + `
local now, dead, restart = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1'
if not restart then
  if redis.call('EXISTS', '{sc}:lease:' .. dead) == 1 then return {} end
  if not redis.call('SET', '{sc}:reaping:' .. dead, '1', 'NX', 'PX', 30000) then return {} end
  for _, agent in ipairs(redis.call('SMEMBERS', '{sc}:agents:' .. dead)) do
    -- An agent whose phone was at the dead instance but who is on a call
    -- a live instance owns keeps that call: logging it out would let its
    -- phone's next REGISTER log it in again and give it a second call
    -- while the first goes on (issue 13, 2). The call's owner takes the
    -- agent over; its device counts as gone, so after wrap-up it is
    -- logged out unless its phone registered again meanwhile.
    local k = agentKey(agent)
    local st, call = redis.call('HGET', k, 'state'), redis.call('HGET', k, 'call')
    local owner = false
    if call and call ~= '' then owner = redis.call('HGET', callKey(call), 'owner') end
    if owner and owner ~= dead and (st == 'on-call' or st == 'wrap-up' or st == 'reserved') then
      redis.call('HSET', k, 'owner', owner, 'device', 'gone')
      redis.call('SADD', '{sc}:agents:' .. owner, agent)
    else
      logout(agent, 'instance-lost', now)
    end
  end
end
local out = {}
for _, call in ipairs(redis.call('SMEMBERS', '{sc}:calls:' .. dead)) do
  local k = callKey(call)
  if redis.call('HGET', k, 'callback') == '1' and not redis.call('HGET', k, 'answered') then
    -- A callback the instance ran before the citizen answered (issue 16):
    -- not over, back at its place for the next instance to run.
    local agent = redis.call('HGET', k, 'agent')
    dequeue(call)
    toCallbacks(call)
    redis.call('HSET', k, 'agent', '')
    if agent and agent ~= '' and redis.call('HGET', agentKey(agent), 'call') == call then ready(agent, now) end
    place(call, now)
  else
  if redis.call('HGET', k, 'state') == 'waiting' then cevent(call, 'removed', now) end
  dequeue(call)
  out[#out + 1] = redis.call('HGETALL', k)
  local agent = redis.call('HGET', k, 'agent')
  closeTicket(call)
  redis.call('DEL', k)
  if agent and agent ~= '' and redis.call('HGET', agentKey(agent), 'call') == call then
    ready(agent, now)
  end
  end
end
redis.call('DEL', '{sc}:calls:' .. dead, '{sc}:assign:' .. dead)
if not restart then
  redis.call('DEL', '{sc}:agents:' .. dead)
  redis.call('SREM', '{sc}:instances', dead)
end
return out
`)

// staffedScript counts the agents logged in with a skill who are not
// paused: available, ringing, talking or in wrap-up — those who will take
// a call soon. ARGV: skill. O(agents of the skill).
var staffedScript = redis.NewScript(lib + `
local n = 0
for _, agent in ipairs(redis.call('SMEMBERS', '{sc}:loggedin:' .. ARGV[1])) do
  local st = redis.call('HGET', agentKey(agent), 'state')
  if st and st ~= 'paused' and st ~= 'logged-out' then n = n + 1 end
end
return n
`)

// signalWrapupScript passes an agent's "ready" or "extend" to the instance
// that runs the agent's wrap-up (the owner of the call it wraps up), on
// that instance's assignment list. ARGV: agent, signal. Returns the owner,
// or false if the agent is not in wrap-up.
var signalWrapupScript = redis.NewScript(lib + `
local agent, signal = ARGV[1], ARGV[2]
local k = agentKey(agent)
if redis.call('HGET', k, 'state') ~= 'wrap-up' then return false end
local call = redis.call('HGET', k, 'call')
local owner = call and redis.call('HGET', callKey(call), 'owner')
if not owner then return false end
redis.call('RPUSH', '{sc}:assign:' .. owner, '!' .. signal .. ' ' .. agent .. ' ' .. call)
return owner
`)

// recordHandledScript adds a finished call to the agent's counters and to
// the skill's average handling time (EWMA, weight 1/5) in one step, so
// that instances finishing calls at the same moment lose no update.
// ARGV: agent, skill, talk ms, handle ms.
var recordHandledScript = redis.NewScript(lib + `
local agent, skill, talk, handle = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('HINCRBY', agentKey(agent), 'calls', 1)
redis.call('HINCRBY', agentKey(agent), 'talk_ms', talk)
local key = '{sc}:stats:' .. skill
local old = tonumber(redis.call('HGET', key, 'aht_ms') or '0') or 0
local nxt = handle
if old > 0 then nxt = math.floor((4 * old + handle) / 5) end
redis.call('HSET', key, 'aht_ms', nxt)
return nxt
`)

// useNonceScript takes a digest nonce count: it succeeds (1) only if nc is
// above every count used with the nonce before, on any instance, so a
// captured Authorization cannot be replayed.
// KEYS[1] {sc}:nc:<nonce>; ARGV nc, ttl ms.
var useNonceScript = redis.NewScript(`
local nc = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if nc <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)
