package queue

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/interop"
)

// BenchmarkEnqueueAndMatch measures, per iteration, one Enqueue of a new
// call (it queues: no agent free) and one AgentReady of a logged-in agent
// (it matches the head of the queue), with 10, 1,000 and 10,000 calls
// waiting and 1,000 agents logged in, on the embedded store and on a real
// redis-server over loopback. It reports p50 and p99 of each operation.
func BenchmarkEnqueueAndMatch(b *testing.B) {
	for _, backend := range []string{"embedded", "redis-server"} {
		for _, waiting := range []int{10, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/waiting=%d", backend, waiting), func(b *testing.B) {
				cfg := Config{}
				if backend == "redis-server" {
					cfg.Redis = interop.RedisServer(b)
				}
				s, err := Open(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				benchEnqueueMatch(b, s, waiting)
			})
		}
	}
}

func benchEnqueueMatch(b *testing.B, s *Store, waiting int) {
	ctx := context.Background()
	const agents = 1000
	t0 := time.Now()
	q := []Target{{Skill: "q", MinLevel: 1}}
	skills := []AgentSkill{{Skill: "q", Level: 5}, {Skill: "other", Level: 3}}
	for i := 0; i < agents; i++ { // logged in, and all busy talking
		id := fmt.Sprintf("a%d", i)
		_, _ = s.AgentReady(ctx, id, "bench", skills)
		_ = s.AgentState(ctx, id, "on-call", "")
	}
	for i := 0; i < waiting; i++ {
		if _, err := s.Enqueue(ctx, fmt.Sprintf("w%d", i), "bench", Score(5, t0.Add(time.Duration(i)*time.Millisecond)), q, nil); err != nil {
			b.Fatal(err)
		}
	}
	enq := make([]time.Duration, 0, b.N)
	mat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := s.Enqueue(ctx, fmt.Sprintf("n%d", i), "bench", Score(5, t0.Add(2*time.Hour+time.Duration(i)*time.Millisecond)), q, nil); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		m, err := s.AgentReady(ctx, fmt.Sprintf("a%d", i%agents), "bench", skills)
		if err != nil || m == nil {
			b.Fatalf("no match: %v %v", m, err)
		}
		end := time.Now()
		enq, mat = append(enq, mid.Sub(start)), append(mat, end.Sub(mid))
		if i%256 == 0 { // the owner's assignment list would be drained by its dispatcher
			s.rdb.Del(ctx, "{sc}:assign:bench")
		}
	}
	b.StopTimer()
	b.ReportMetric(pct(enq, 50), "enqueue-p50-µs")
	b.ReportMetric(pct(enq, 99), "enqueue-p99-µs")
	b.ReportMetric(pct(mat, 50), "match-p50-µs")
	b.ReportMetric(pct(mat, 99), "match-p99-µs")
}

func pct(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[min(len(s)-1, len(s)*p/100)].Microseconds())
}
