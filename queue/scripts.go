package queue

import "github.com/redis/go-redis/v9"

// Key layout: every key carries the {sc} hash tag so that the scripts stay
// atomic on a Redis Cluster too.
//   {sc}:q:<skill>      ZSET waiting call ids, score = arrival (ms)
//   {sc}:avail:<skill>  ZSET available agent ids, score = idle since (ms)
//   {sc}:agent:<id>     HASH state, skills (comma list), call
//   {sc}:call:<id>      HASH skill, score

// enqueueScript matches a new call with the longest-idle available agent of
// its skill, or queues it. KEYS: none (built from ARGV so one script serves
// every skill). ARGV: call id, skill, score. Returns the agent id or false.
var enqueueScript = redis.NewScript(`
local call, skill, score = ARGV[1], ARGV[2], ARGV[3]
local best = redis.call('ZRANGE', '{sc}:avail:' .. skill, 0, 0)
if #best > 0 then
  local agent = best[1]
  local skills = redis.call('HGET', '{sc}:agent:' .. agent, 'skills') or ''
  for s in string.gmatch(skills, '[^,]+') do
    redis.call('ZREM', '{sc}:avail:' .. s, agent)
  end
  redis.call('HSET', '{sc}:agent:' .. agent, 'state', 'reserved', 'call', call)
  return agent
end
redis.call('ZADD', '{sc}:q:' .. skill, score, call)
redis.call('HSET', '{sc}:call:' .. call, 'skill', skill, 'score', score)
return false
`)

// agentReadyScript gives a freed agent the longest-waiting call over all its
// skills, or marks it available. ARGV: agent id, idle-since score, skills...
// Returns the call id or false.
var agentReadyScript = redis.NewScript(`
local agent, idle = ARGV[1], ARGV[2]
local skills = {}
for i = 3, #ARGV do skills[#skills + 1] = ARGV[i] end
redis.call('HSET', '{sc}:agent:' .. agent, 'skills', table.concat(skills, ','))
local bestCall, bestScore, bestSkill = nil, nil, nil
for _, s in ipairs(skills) do
  local top = redis.call('ZRANGE', '{sc}:q:' .. s, 0, 0, 'WITHSCORES')
  if #top > 0 and (bestScore == nil or tonumber(top[2]) < bestScore) then
    bestCall, bestScore, bestSkill = top[1], tonumber(top[2]), s
  end
end
if bestCall then
  redis.call('ZREM', '{sc}:q:' .. bestSkill, bestCall)
  redis.call('DEL', '{sc}:call:' .. bestCall)
  redis.call('HSET', '{sc}:agent:' .. agent, 'state', 'reserved', 'call', bestCall)
  return bestCall
end
for _, s in ipairs(skills) do
  redis.call('ZADD', '{sc}:avail:' .. s, idle, agent)
end
redis.call('HSET', '{sc}:agent:' .. agent, 'state', 'available', 'call', '')
return false
`)

// agentBusyScript takes an agent out of every available set with a state
// (logged-out, on-call, wrap-up). ARGV: agent id, state.
var agentBusyScript = redis.NewScript(`
local agent, state = ARGV[1], ARGV[2]
local skills = redis.call('HGET', '{sc}:agent:' .. agent, 'skills') or ''
for s in string.gmatch(skills, '[^,]+') do
  redis.call('ZREM', '{sc}:avail:' .. s, agent)
end
redis.call('HSET', '{sc}:agent:' .. agent, 'state', state)
return 1
`)

// removeCallScript takes a waiting call out of its queue. ARGV: call id.
// Returns 1 if it was still waiting.
var removeCallScript = redis.NewScript(`
local call = ARGV[1]
local skill = redis.call('HGET', '{sc}:call:' .. call, 'skill')
if not skill then return 0 end
redis.call('DEL', '{sc}:call:' .. call)
return redis.call('ZREM', '{sc}:q:' .. skill, call)
`)
