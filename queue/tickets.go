package queue

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Callback tickets (issue 16): an agent who cannot answer a question at
// first contact books a callback for later — a ticket. It is a callback
// (see callbacks.go) that was never a waiting call: created in the store
// with CallbackOwner, placed in the tickets' own queue with a score by its
// due time (earliest first), and run like any callback when an agent of
// that queue is free. {sc}:tickets:<municipality> (ZSET, score = due ms)
// holds the open tickets, for the service-level view's overdue count.

// TicketPrefix starts every ticket's id (its CDR's call_id).
const TicketPrefix = "ticket-"

// CreateTicket stores a ticket and places it (score: its due time) in
// targets; fields are its call fields (municipality, cb_number, …). It may
// match at once (the match goes to the shared callback list). ok is false
// if the id exists.
func (s *Store) CreateTicket(ctx context.Context, id string, score int64, targets []Target, due time.Time, fields map[string]string) (bool, error) {
	args := []any{s.nowMS(), id, strconv.FormatInt(score, 10), encodeTargets(targets), strconv.FormatInt(due.UnixMilli(), 10)}
	for k, v := range fields {
		args = append(args, k, v)
	}
	n, err := createTicketScript.Run(ctx, s.rdb, nil, args...).Int()
	return n == 1, err
}

// TicketCount is a municipality's open tickets and those past due.
type TicketCount struct {
	Open, Overdue int64
}

// Tickets counts the open and overdue tickets of municipalities (one
// round trip).
func (s *Store) Tickets(ctx context.Context, municipalities []string, now time.Time) (map[string]TicketCount, error) {
	pipe := s.rdb.Pipeline()
	open := make([]*redis.IntCmd, len(municipalities))
	late := make([]*redis.IntCmd, len(municipalities))
	for i, m := range municipalities {
		open[i] = pipe.ZCard(ctx, "{sc}:tickets:"+m)
		late[i] = pipe.ZCount(ctx, "{sc}:tickets:"+m, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]TicketCount, len(municipalities))
	for i, m := range municipalities {
		out[m] = TicketCount{Open: open[i].Val(), Overdue: late[i].Val()}
	}
	return out, nil
}

// createTicketScript: ARGV now, id, score, targets, due ms, then
// field/value pairs (municipality among them).
var createTicketScript = redis.NewScript(lib + `
local now, call, score, t, due = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = callKey(call)
if redis.call('EXISTS', k) == 1 then return 0 end
redis.call('HSET', k, 'owner', '@callbacks', 'score', score, 'targets', t, 'callback', '1', 'kind', 'ticket', 'due_at', due)
for i = 6, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
redis.call('SADD', '{sc}:calls:@callbacks', call)
redis.call('ZADD', '{sc}:tickets:' .. (redis.call('HGET', k, 'municipality') or ''), due, call)
place(call, now)
return 1
`)
