package queue

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Supervisors act on waiting calls from any instance; the call's owner
// carries the action out. A call signal travels like a wrap-up signal, on
// the owner's assignment list, as a Match with Signal set and AgentID
// holding the signal's argument.
const (
	SignalOverflow = "overflow" // send the call to the federation now
	SignalMove     = "move"     // wait in another queue (argument: its skill), keeping the place
	SignalTransfer = "transfer" // the agent's console transfers the call (argument: the target)
)

// SignalCall passes signal (with arg, no spaces) to the instance that owns
// a waiting call; ok is false when the call waits nowhere.
func (s *Store) SignalCall(ctx context.Context, callID, signal, arg string) (bool, error) {
	n, err := signalCallScript.Run(ctx, s.rdb, nil, callID, signal, arg, "1").Int()
	return n == 1, err
}

var signalCallScript = redis.NewScript(lib + `
local call, signal, arg, waiting = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local owner = redis.call('HGET', callKey(call), 'owner')
local queued = redis.call('HGET', callKey(call), 'queued')
if not owner then return 0 end
-- A callback has no caller on the line to overflow or move (nobody would
-- carry the signal out): it keeps its place; a supervisor dismisses or
-- retries it instead (GET /api/callbacks).
if owner == '@callbacks' then return 0 end
if waiting == '1' and (not queued or queued == '') then return 0 end
redis.call('RPUSH', '{sc}:assign:' .. owner, '!' .. signal .. ' ' .. arg .. ' ' .. call)
return 1
`)

// SignalLiveCall is SignalCall for a call in any state (a connected one:
// its agent's console transfers it); ok is false when the call is over.
func (s *Store) SignalLiveCall(ctx context.Context, callID, signal, arg string) (bool, error) {
	n, err := signalCallScript.Run(ctx, s.rdb, nil, callID, signal, arg, "0").Int()
	return n == 1, err
}

// WaitingCall is a call in a queue, as supervisors see it.
type WaitingCall struct {
	CallID       string
	Municipality string
	Priority     int // 0–9
	Arrived      time.Time
	// Callback: a caller who hung up to be called back at this place.
	Callback bool
}

// WaitingCalls lists up to limit calls waiting for skill, in queue order
// (priority, then arrival).
func (s *Store) WaitingCalls(ctx context.Context, skill string, limit int64) ([]WaitingCall, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.ZSliceCmd, 10)
	for l := 1; l <= 10; l++ {
		cmds[l-1] = pipe.ZRangeWithScores(ctx, "{sc}:q:"+skill+":"+strconv.Itoa(l), 0, limit-1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	best := map[string]float64{}
	for _, c := range cmds {
		for _, z := range c.Val() {
			id, _ := z.Member.(string)
			if old, ok := best[id]; !ok || z.Score < old {
				best[id] = z.Score
			}
		}
	}
	ids := make([]string, 0, len(best))
	for id := range best {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return best[ids[i]] < best[ids[j]] })
	if int64(len(ids)) > limit {
		ids = ids[:limit]
	}
	pipe = s.rdb.Pipeline()
	munis := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		munis[i] = pipe.HMGet(ctx, "{sc}:call:"+id, "municipality", "callback")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]WaitingCall, 0, len(ids))
	for i, id := range ids {
		score := int64(best[id])
		band := score / 1e13
		v := munis[i].Val()
		w := WaitingCall{CallID: id, Priority: int(9 - band), Arrived: time.UnixMilli(score - band*1e13)}
		if len(v) == 2 {
			w.Municipality, _ = v[0].(string)
			cb, _ := v[1].(string)
			w.Callback = cb == "1"
		}
		out = append(out, w)
	}
	return out, nil
}
