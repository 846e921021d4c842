package queue

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Callbacks (virtual hold, issue 16). A caller who asks to be called back
// hangs up, but the call stays in the store where it was: in its queues,
// with its score, so it keeps its place. Its owner becomes CallbackOwner,
// a pseudo-instance that never dies: the match that reserves an agent for
// it lands on the shared assignment list every instance reads, and the
// instance that takes it claims the callback (ClaimCallback) and runs it.
// A callback that cannot be dialed now (closed, crisis, no answer) is
// parked in {sc}:cb:due until its time and then placed again with its
// score; one that ran out of tries is kept in {sc}:cb:failed for the
// supervisors. Nothing of this lives in a goroutine: a restart, or the
// death of the instance running it before the citizen answered, puts the
// callback back at its place (the reaper does).
//
//	{sc}:assign:@callbacks  LIST matches for callbacks, read by every instance
//	{sc}:calls:@callbacks   SET callbacks nobody runs now (waiting, parked)
//	{sc}:cb:due             ZSET parked callbacks, score = ms when due
//	{sc}:cb:failed          ZSET callbacks that ran out of tries, score = ms failed
//
// Call fields: callback "1", cb_number (the number to dial; personal data,
// deleted with the call), cb_requested (ms), cb_attempts, cb_due (ms).

// CallbackOwner owns the callbacks no instance runs right now.
const CallbackOwner = "@callbacks"

// RequestCallback turns a waiting call into a callback that keeps its
// place (fields are added to the call, e.g. the number to dial). ok is
// false when the call is not waiting any more (an agent was reserved for
// it meanwhile: its assignment is on the way to its owner).
func (s *Store) RequestCallback(ctx context.Context, callID string, fields map[string]string) (bool, error) {
	args := []any{callID}
	for k, v := range fields {
		args = append(args, k, v)
	}
	n, err := requestCallbackScript.Run(ctx, s.rdb, nil, args...).Int()
	return n == 1, err
}

// ClaimCallback takes a callback whose match this instance received from
// the shared list: the instance owns it from now on (its reaper would put
// it back if the instance died). It returns the call's fields, or nil if
// the match is stale (another instance claimed it, or it is gone).
func (s *Store) ClaimCallback(ctx context.Context, callID, agentID, instance string) (map[string]string, error) {
	v, err := claimCallbackScript.Run(ctx, s.rdb, nil, callID, agentID, instance).Slice()
	if err == redis.Nil || len(v) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return pairs(v), nil
}

// RequeueCallback puts a callback back at its place in its queues (an
// agent did not answer its offer, or the instance running it stops); it
// may match at once (the match goes to the shared list).
// fields are updated first (e.g. the offers so far).
func (s *Store) RequeueCallback(ctx context.Context, callID string, fields map[string]string) error {
	args := []any{s.nowMS(), callID}
	for k, v := range fields {
		args = append(args, k, v)
	}
	return requeueCallbackScript.Run(ctx, s.rdb, nil, args...).Err()
}

// ParkCallback takes a callback out of its queues until due (the next
// try, the next opening), with fields updated (e.g. cb_attempts).
// WakeCallbacks places it again with its score when due.
func (s *Store) ParkCallback(ctx context.Context, callID string, due time.Time, fields map[string]string) error {
	args := []any{callID, strconv.FormatInt(due.UnixMilli(), 10)}
	for k, v := range fields {
		args = append(args, k, v)
	}
	return parkCallbackScript.Run(ctx, s.rdb, nil, args...).Err()
}

// RetryCallbackNow makes a parked callback due now (a supervisor does not
// want it to wait for its next try); ok is false if it is not parked.
func (s *Store) RetryCallbackNow(ctx context.Context, callID string) (bool, error) {
	n, err := retryNowScript.Run(ctx, s.rdb, nil, s.nowMS(), callID).Int()
	return n == 1, err
}

// WakeCallbacks places the parked callbacks that are due (up to 100 per
// call) back in their queues; it returns how many. Every instance may run
// it: the script takes each once.
func (s *Store) WakeCallbacks(ctx context.Context) (int, error) {
	return wakeCallbacksScript.Run(ctx, s.rdb, nil, s.nowMS()).Int()
}

// FailCallback ends a callback that ran out of tries: out of every queue
// and instance, kept with its fields in {sc}:cb:failed for the supervisors
// until DismissCallback.
func (s *Store) FailCallback(ctx context.Context, callID string, fields map[string]string) error {
	args := []any{s.nowMS(), callID}
	for k, v := range fields {
		args = append(args, k, v)
	}
	return failCallbackScript.Run(ctx, s.rdb, nil, args...).Err()
}

// DismissCallback forgets a failed callback (a supervisor dealt with it);
// ok is false if there was none.
func (s *Store) DismissCallback(ctx context.Context, callID string) (bool, error) {
	n, err := dismissCallbackScript.Run(ctx, s.rdb, nil, callID).Int()
	return n == 1, err
}

// Callbacks returns the fields of every callback: those waiting or
// parked, those being run by an instance, and those that failed (call id
// under "id", state waiting, reserved, parked, running or failed).
func (s *Store) Callbacks(ctx context.Context) ([]map[string]string, error) {
	v, err := listCallbacksScript.Run(ctx, s.rdb, nil).Slice()
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, 0, len(v))
	for _, c := range v {
		kv, _ := c.([]any)
		out = append(out, pairs(kv))
	}
	return out, nil
}

// pairs reads a flat field/value reply.
func pairs(kv []any) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		val, _ := kv[i+1].(string)
		m[k] = val
	}
	return m
}

// cbLib: moving a call to the callback owner.
const cbLib = `
local function toCallbacks(call)
  local k = callKey(call)
  local owner = redis.call('HGET', k, 'owner')
  if owner then redis.call('SREM', '{sc}:calls:' .. owner, call) end
  redis.call('SADD', '{sc}:calls:@callbacks', call)
  redis.call('HSET', k, 'owner', '@callbacks')
end
`

// requestCallbackScript: ARGV call id, then field/value pairs.
var requestCallbackScript = redis.NewScript(lib + cbLib + `
local call = ARGV[1]
local k = callKey(call)
if redis.call('HGET', k, 'state') ~= 'waiting' then return 0 end
toCallbacks(call)
redis.call('HSET', k, 'callback', '1')
for i = 2, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
cevent(call, 'callback', 0)
return 1
`)

// claimCallbackScript: ARGV call id, agent, instance. Returns the call's
// fields, or an empty list for a stale match.
var claimCallbackScript = redis.NewScript(lib + `
local call, agent, instance = ARGV[1], ARGV[2], ARGV[3]
local k = callKey(call)
if redis.call('HGET', k, 'owner') ~= '@callbacks' or redis.call('HGET', k, 'state') ~= 'reserved'
    or redis.call('HGET', k, 'agent') ~= agent then
  return {}
end
redis.call('SMOVE', '{sc}:calls:@callbacks', '{sc}:calls:' .. instance, call)
redis.call('HSET', k, 'owner', instance, 'state', 'running')
return redis.call('HGETALL', k)
`)

// requeueCallbackScript: ARGV now, call id, then field/value pairs.
var requeueCallbackScript = redis.NewScript(lib + cbLib + `
local now, call = tonumber(ARGV[1]), ARGV[2]
if redis.call('HGET', callKey(call), 'callback') ~= '1' then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', callKey(call), ARGV[i], ARGV[i + 1]) end
dequeue(call)
toCallbacks(call)
redis.call('HDEL', callKey(call), 'answered')
place(call, now)
return 1
`)

// parkCallbackScript: ARGV call id, due ms, then field/value pairs.
var parkCallbackScript = redis.NewScript(lib + cbLib + `
local call, due = ARGV[1], ARGV[2]
local k = callKey(call)
if redis.call('HGET', k, 'callback') ~= '1' then return 0 end
dequeue(call)
toCallbacks(call)
redis.call('HSET', k, 'state', 'parked', 'agent', '', 'cb_due', due)
redis.call('HDEL', k, 'answered')
for i = 3, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', '{sc}:cb:due', due, call)
return 1
`)

// wakeCallbacksScript: ARGV now.
var wakeCallbacksScript = redis.NewScript(lib + `
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', '{sc}:cb:due', '-inf', now, 'LIMIT', 0, 100)
for _, call in ipairs(due) do
  redis.call('ZREM', '{sc}:cb:due', call)
  if redis.call('HGET', callKey(call), 'state') == 'parked' then place(call, now) end
end
return #due
`)

// failCallbackScript: ARGV now, call id, then field/value pairs.
var failCallbackScript = redis.NewScript(lib + `
local now, call = ARGV[1], ARGV[2]
local k = callKey(call)
dequeue(call)
local owner = redis.call('HGET', k, 'owner')
if owner then redis.call('SREM', '{sc}:calls:' .. owner, call) end
redis.call('ZREM', '{sc}:cb:due', call)
closeTicket(call)
redis.call('HSET', k, 'state', 'failed', 'owner', '', 'agent', '', 'cb_failed', now)
for i = 3, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', '{sc}:cb:failed', now, call)
return 1
`)

// dismissCallbackScript: ARGV call id.
var dismissCallbackScript = redis.NewScript(`
local call = ARGV[1]
if redis.call('ZREM', '{sc}:cb:failed', call) == 0 then return 0 end
redis.call('DEL', '{sc}:call:' .. call)
return 1
`)

// listCallbacksScript: no arguments. The callbacks nobody runs, those an
// instance runs (callback calls of any instance), and the failed ones.
var listCallbacksScript = redis.NewScript(lib + `
local out = {}
local seen = {}
local function add(call)
  if seen[call] then return end
  seen[call] = true
  local f = redis.call('HGETALL', callKey(call))
  if #f > 0 then out[#out + 1] = f end
end
for _, call in ipairs(redis.call('SMEMBERS', '{sc}:calls:@callbacks')) do add(call) end
for _, inst in ipairs(redis.call('SMEMBERS', '{sc}:instances')) do
  for _, call in ipairs(redis.call('SMEMBERS', '{sc}:calls:' .. inst)) do
    if redis.call('HGET', callKey(call), 'callback') == '1' then add(call) end
  end
end
for _, call in ipairs(redis.call('ZRANGE', '{sc}:cb:failed', 0, -1)) do add(call) end
return out
`)

// retryNowScript: ARGV now, call id.
var retryNowScript = redis.NewScript(`
local now, call = ARGV[1], ARGV[2]
if redis.call('HGET', '{sc}:call:' .. call, 'state') ~= 'parked' or redis.call('ZSCORE', '{sc}:cb:due', call) == false then return 0 end
redis.call('ZADD', '{sc}:cb:due', now, call)
return 1
`)
