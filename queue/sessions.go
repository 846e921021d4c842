package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Web sessions (package acd/web) live in the shared store, so that every
// instance knows a user who signed in on another one, and a logout ends
// the session everywhere. The store keys a session by the SHA-256 of its
// id: a look at the store (a dump, a replica) yields no cookie to replay.

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "{sc}:web:session:" + hex.EncodeToString(sum[:])
}

// PutSession stores a session's data for ttl.
func (s *Store) PutSession(ctx context.Context, id string, data []byte, ttl time.Duration) error {
	return s.rdb.Set(ctx, sessionKey(id), data, ttl).Err()
}

// GetSession returns a session's data, nil if there is none (expired,
// ended, never was).
func (s *Store) GetSession(ctx context.Context, id string) ([]byte, error) {
	data, err := s.rdb.Get(ctx, sessionKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return data, err
}

// DropSession ends a session.
func (s *Store) DropSession(ctx context.Context, id string) error {
	return s.rdb.Del(ctx, sessionKey(id)).Err()
}
