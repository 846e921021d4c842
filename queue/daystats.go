package queue

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Day figures for the wallboard, shared by every instance: each finished
// call adds to its municipality's and its queue's counters of the day and
// of its 15-minute interval (a hash each, kept a week). One pipeline per
// call, none per packet; every instance's wallboard reads the same.

// DaySlots is the number of 15-minute intervals of a day.
const DaySlots = 96

// dayStatsTTL keeps a day's figures a week (the wallboard shows today;
// the CDRs are the record).
const dayStatsTTL = 8 * 24 * time.Hour

func dayKey(day, subject string) string { return "{sc}:day:" + day + ":" + subject }

func slotKey(day, subject string, slot int) string {
	return dayKey(day, subject) + ":" + strconv.Itoa(slot)
}

// CountCall adds fields (e.g. offered 1, answered 1) to each subject's
// ("m:burgdorf", "q:burgdorf") counters of day (YYYY-MM-DD) and of its
// interval slot (0–95).
func (s *Store) CountCall(ctx context.Context, day string, slot int, subjects []string, fields map[string]int64) error {
	pipe := s.rdb.Pipeline()
	for _, sub := range subjects {
		for _, k := range []string{dayKey(day, sub), slotKey(day, sub, slot)} {
			for f, n := range fields {
				pipe.HIncrBy(ctx, k, f, n)
			}
			pipe.Expire(ctx, k, dayStatsTTL)
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// DayStats returns a subject's counters of day and of each of its
// intervals (index = slot; empty maps where nothing happened).
func (s *Store) DayStats(ctx context.Context, day, subject string) (map[string]int64, []map[string]int64, error) {
	pipe := s.rdb.Pipeline()
	total := pipe.HGetAll(ctx, dayKey(day, subject))
	slots := make([]*redis.MapStringStringCmd, DaySlots)
	for i := range slots {
		slots[i] = pipe.HGetAll(ctx, slotKey(day, subject, i))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, nil, err
	}
	out := make([]map[string]int64, DaySlots)
	for i, c := range slots {
		out[i] = ints(c.Val())
	}
	return ints(total.Val()), out, nil
}

func ints(m map[string]string) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		n, _ := strconv.ParseInt(v, 10, 64)
		out[k] = n
	}
	return out
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
