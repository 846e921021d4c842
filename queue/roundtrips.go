package queue

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// roundTrips counts the requests a Store's clients send (a pipeline is
// one): the Redis cost of a call, for the sizing guide and the
// sc115_store_round_trips_total metric.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// RoundTrips is how many requests this store has sent to Redis so far
// (commands and pipelines; a script is one, its fallback from EVALSHA to
// EVAL a second).
func (s *Store) RoundTrips() int64 { return s.trips.n.Load() }
