package queue

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Day figures for the wallboard, shared by every instance: each finished
// call adds to its municipality's and its queue's counters of the day and
// of its 15-minute interval. A subject's day is one hash (kept a week):
// field "offered" counts the day, field "37.offered" interval 37. So the
// wallboard reads a municipality's whole day with one HGETALL, not one
// per interval; one pipeline per finished call, none per packet.

// DaySlots is the number of 15-minute intervals of a day.
const DaySlots = 96

// dayStatsTTL keeps a day's figures a week (the wallboard shows today;
// the CDRs are the record).
const dayStatsTTL = 8 * 24 * time.Hour

func dayKey(day, subject string) string { return "{sc}:day:" + day + ":" + subject }

// CountCall adds fields (e.g. offered 1, answered 1) to each subject's
// ("m:burgdorf", "q:burgdorf") counters of day (YYYY-MM-DD) and of its
// interval slot (0–95).
func (s *Store) CountCall(ctx context.Context, day string, slot int, subjects []string, fields map[string]int64) error {
	prefix := strconv.Itoa(slot) + "."
	pipe := s.rdb.Pipeline()
	for _, sub := range subjects {
		k := dayKey(day, sub)
		for f, n := range fields {
			pipe.HIncrBy(ctx, k, f, n)
			pipe.HIncrBy(ctx, k, prefix+f, n)
		}
		pipe.Expire(ctx, k, dayStatsTTL)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// DayFigures are a subject's counters of one day: the day's and each
// interval's (index = slot; empty maps where nothing happened).
type DayFigures struct {
	Total map[string]int64
	Slots []map[string]int64
}

// DayStats reads the day figures of every subject in one round trip.
func (s *Store) DayStats(ctx context.Context, day string, subjects []string) ([]DayFigures, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(subjects))
	for i, sub := range subjects {
		cmds[i] = pipe.HGetAll(ctx, dayKey(day, sub))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]DayFigures, len(subjects))
	for i, c := range cmds {
		out[i] = splitDay(c.Val())
	}
	return out, nil
}

// splitDay sorts a day hash's fields into the day's and the intervals'.
func splitDay(m map[string]string) DayFigures {
	d := DayFigures{Total: map[string]int64{}, Slots: make([]map[string]int64, DaySlots)}
	for i := range d.Slots {
		d.Slots[i] = map[string]int64{}
	}
	for k, v := range m {
		n, _ := strconv.ParseInt(v, 10, 64)
		slot, field, ok := strings.Cut(k, ".")
		if !ok {
			d.Total[k] = n
			continue
		}
		if i, err := strconv.Atoi(slot); err == nil && i >= 0 && i < DaySlots {
			d.Slots[i][field] = n
		}
	}
	return d
}

// OldestWaiting is the arrival of the call that waits longest for skill
// (zero if none waits): the earliest arrival over every priority band of
// every level's queue (a score is band·10¹³ + arrival in ms, Score).
func (s *Store) OldestWaiting(ctx context.Context, skill string) (time.Time, error) {
	ms, err := oldestScript.Run(ctx, s.rdb, nil, skill).Int64()
	if err != nil || ms == 0 {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), nil
}

var oldestScript = redis.NewScript(`
local oldest = 0
for l = 1, 10 do
  local key = '{sc}:q:' .. ARGV[1] .. ':' .. l
  if redis.call('EXISTS', key) == 1 then
    for band = 0, 9 do
      local r = redis.call('ZRANGEBYSCORE', key, band * 1e13, (band + 1) * 1e13 - 1, 'WITHSCORES', 'LIMIT', 0, 1)
      if #r == 2 then
        local arrived = tonumber(r[2]) - band * 1e13
        if oldest == 0 or arrived < oldest then oldest = arrived end
      end
    end
  end
end
return oldest
`)
