package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Store is the shared queue state behind one Redis client.
type Store struct {
	rdb      redis.UniversalClient
	embedded *miniredis.Miniredis
}

// Open connects to cfg.Redis, or starts the embedded in-process server when
// it is empty. Either way the same client and scripts are used.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{}
	url := cfg.Redis
	if url == "" {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("embedded store: %w", err)
		}
		s.embedded = m
		url = "redis://" + m.Addr()
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("redis url: %w", err)
	}
	s.rdb = redis.NewClient(opt)
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.Close()
		return nil, fmt.Errorf("redis %s: %w", opt.Addr, err)
	}
	return s, nil
}

// Embedded reports whether the store runs in-process.
func (s *Store) Embedded() bool { return s.embedded != nil }

// Addr is where the store listens (embedded) or which server it uses.
func (s *Store) Addr() string {
	if s.embedded != nil {
		return s.embedded.Addr()
	}
	if c, ok := s.rdb.(*redis.Client); ok {
		return c.Options().Addr
	}
	return ""
}

// Ping checks the store answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// Close disconnects and stops the embedded server.
func (s *Store) Close() {
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
}

// Enqueue matches the call with the best available agent of skill, or
// queues it at score (lower is served first; arrival time in ms keeps FIFO
// and lets a call that goes back keep its original place). It returns the
// agent id reserved for the call, or "" if the call now waits.
func (s *Store) Enqueue(ctx context.Context, callID, skill string, score int64) (string, error) {
	v, err := enqueueScript.Run(ctx, s.rdb, nil, callID, skill, strconv.FormatInt(score, 10)).Result()
	return stringOrNone(v, err)
}

// AgentReady makes the agent available for skills (idle since idleMS) or,
// if a call waits in one of them, reserves the agent for the longest-waiting
// such call and returns its id.
func (s *Store) AgentReady(ctx context.Context, agentID string, skills []string, idleMS int64) (string, error) {
	args := append([]any{agentID, strconv.FormatInt(idleMS, 10)}, toAny(skills)...)
	v, err := agentReadyScript.Run(ctx, s.rdb, nil, args...).Result()
	return stringOrNone(v, err)
}

// AgentNotAvailable takes the agent out of all available sets and records
// why (state: logged-out, on-call, wrap-up, …).
func (s *Store) AgentNotAvailable(ctx context.Context, agentID, state string) error {
	return agentBusyScript.Run(ctx, s.rdb, nil, agentID, state).Err()
}

// RemoveCall takes a waiting call out of its queue; it reports whether the
// call was still waiting (false: it was already matched).
func (s *Store) RemoveCall(ctx context.Context, callID string) (bool, error) {
	n, err := removeCallScript.Run(ctx, s.rdb, nil, callID).Int()
	return n == 1, err
}

// AgentState returns the agent's stored state ("" if unknown).
func (s *Store) AgentState(ctx context.Context, agentID string) (string, error) {
	v, err := s.rdb.HGet(ctx, "{sc}:agent:"+agentID, "state").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}

// Waiting returns the number of calls waiting for skill.
func (s *Store) Waiting(ctx context.Context, skill string) (int64, error) {
	return s.rdb.ZCard(ctx, "{sc}:q:"+skill).Result()
}

func stringOrNone(v any, err error) (string, error) {
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if str, ok := v.(string); ok {
		return str, nil
	}
	return "", nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
