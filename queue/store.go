package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Store is the shared queue state behind one Redis client.
type Store struct {
	rdb      redis.UniversalClient
	lease    redis.UniversalClient // its own small pool: lease renewal never waits behind call traffic
	embedded *miniredis.Miniredis
	addr     string
	trips    roundTrips
	// Now is the clock used for scores and timestamps (ms); tests may set it.
	Now func() time.Time
}

// Target is a queue a waiting call sits in: a skill at a minimum level,
// and the skill's distribution strategy (agents' scores of different
// strategies are never compared with each other).
type Target struct {
	Skill    string
	MinLevel int
	Strategy string // default longest-idle
}

// AgentSkill is one skill of a logged-in agent with its level and the
// skill's distribution strategy (longest-idle, best-skill, round-robin,
// fewest-calls, least-talk).
type AgentSkill struct {
	Skill    string
	Level    int
	Strategy string
}

// Match is a call and the agent reserved for it; Owner is the instance that
// owns the call's SIP dialog (it receives the match on its assignment list).
// A Match with a Signal is no reservation but a wrap-up signal for the
// agent's wrap-up of CallID on the owner: SignalReady or SignalExtend.
type Match struct {
	CallID, AgentID, Owner string
	Signal                 string
}

// Wrap-up signals, sent to the instance that runs an agent's wrap-up.
const (
	SignalReady  = "ready"  // end the wrap-up now
	SignalExtend = "extend" // give it more time
)

// AgentInfo is an agent's state as stored.
type AgentInfo struct {
	State, Reason, Call, Owner string
	Since                      time.Time
}

// Open connects to cfg.Redis, or starts the embedded in-process server when
// it is empty. Either way the same client and scripts are used.
// redis://host:port/db and redis-sentinel://master@host:port,host:port/db
// are understood.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{Now: time.Now}
	raw := cfg.Redis
	if raw == "" {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("embedded store: %w", err)
		}
		s.embedded = m
		raw = "redis://" + m.Addr()
	}
	var err error
	if s.rdb, s.addr, err = newClient(raw); err != nil {
		s.Close()
		return nil, err
	}
	if s.lease, _, err = newClient(raw); err != nil {
		s.Close()
		return nil, err
	}
	s.rdb.AddHook(&s.trips)
	s.lease.AddHook(&s.trips)
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.Close()
		return nil, fmt.Errorf("redis %s: %w", s.addr, err)
	}
	return s, nil
}

func newClient(raw string) (redis.UniversalClient, string, error) {
	if strings.HasPrefix(raw, "redis-sentinel://") {
		u, err := url.Parse(raw)
		if err != nil || u.User == nil || u.User.Username() == "" || u.Host == "" {
			return nil, "", fmt.Errorf("redis url %q: want redis-sentinel://MASTER@host:port,host:port[/db]", raw)
		}
		db, _ := strconv.Atoi(strings.TrimPrefix(u.Path, "/"))
		opt := &redis.FailoverOptions{MasterName: u.User.Username(), SentinelAddrs: strings.Split(u.Host, ","), DB: db}
		if p, ok := u.User.Password(); ok {
			opt.Password = p
		}
		return redis.NewFailoverClient(opt), "sentinel " + u.Host + " master " + opt.MasterName, nil
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, "", fmt.Errorf("redis url: %w", err)
	}
	return redis.NewClient(opt), opt.Addr, nil
}

// Embedded reports whether the store runs in-process.
func (s *Store) Embedded() bool { return s.embedded != nil }

// Addr is where the store listens (embedded) or which server it uses.
func (s *Store) Addr() string { return s.addr }

// Ping checks the store answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// Close disconnects and stops the embedded server.
func (s *Store) Close() {
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	if s.lease != nil {
		_ = s.lease.Close()
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
}

func (s *Store) nowMS() string { return strconv.FormatInt(s.Now().UnixMilli(), 10) }

func encodeTargets(ts []Target) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Skill + ":" + strconv.Itoa(max(1, min(t.MinLevel, 10))) + ":" + orLongestIdle(t.Strategy)
	}
	return strings.Join(parts, ";")
}

func encodeSkills(sk []AgentSkill) string {
	parts := make([]string, len(sk))
	for i, x := range sk {
		parts[i] = x.Skill + ":" + strconv.Itoa(max(1, min(x.Level, 10))) + ":" + orLongestIdle(x.Strategy)
	}
	return strings.Join(parts, ";")
}

func orLongestIdle(strategy string) string {
	if strategy == "" {
		return "longest-idle"
	}
	return strategy
}

// Score orders waiting calls: higher priority (0–9) first, then arrival.
func Score(priority int, arrived time.Time) int64 {
	return int64(9-max(0, min(priority, 9)))*1e13 + arrived.UnixMilli()
}

// Enqueue stores the call (fields are kept for the reaper's CDR) and either
// reserves the best available agent for it or queues it in its targets at
// score. A call enqueued again with its original score keeps its place.
func (s *Store) Enqueue(ctx context.Context, callID, owner string, score int64, targets []Target, fields map[string]string) (*Match, error) {
	return s.EnqueueAttempt(ctx, "", callID, owner, score, targets, fields)
}

// EnqueueAttempt is Enqueue that may be retried: attempt names this try
// (unique per call and enqueue), and running it again after an error — a
// timeout after Redis did it — changes nothing and returns no match (a
// match of the first run is on the owner's assignment list).
func (s *Store) EnqueueAttempt(ctx context.Context, attempt, callID, owner string, score int64, targets []Target, fields map[string]string) (*Match, error) {
	args := []any{s.nowMS(), callID, owner, strconv.FormatInt(score, 10), encodeTargets(targets), attempt}
	for k, v := range fields {
		args = append(args, k, v)
	}
	return match(enqueueScript.Run(ctx, s.rdb, nil, args...).Result())
}

// Widen replaces a waiting call's targets (escalation), keeping its score
// and so its place; it may match at once.
func (s *Store) Widen(ctx context.Context, callID string, targets []Target) (*Match, error) {
	return match(widenScript.Run(ctx, s.rdb, nil, s.nowMS(), callID, encodeTargets(targets)).Result())
}

// AgentReady logs the agent in with skills (owner: the instance its device
// registered with). It may match at once.
func (s *Store) AgentReady(ctx context.Context, agentID, owner string, skills []AgentSkill) (*Match, error) {
	return match(agentReadyScript.Run(ctx, s.rdb, nil, s.nowMS(), agentID, owner, encodeSkills(skills), "", "", "").Result())
}

// From is the state a logged-in agent must be in to be made ready again:
// one of States (comma-separated), and if set, for Call and with Reason.
type From struct {
	States, Call, Reason string
}

// AgentReadyFrom makes a logged-in agent ready again with its stored skills
// (after wrap-up, a pause, an unanswered offer, a reservation that came to
// nothing) — atomically, only if it is still in the state from says. It
// may match at once; ok is false when the agent was not in that state.
func (s *Store) AgentReadyFrom(ctx context.Context, agentID string, from From) (*Match, error) {
	return match(agentReadyScript.Run(ctx, s.rdb, nil, s.nowMS(), agentID, "", "", from.States, from.Call, from.Reason).Result())
}

// AgentState takes the agent out of distribution with a state (on-call,
// wrap-up, paused, logged-out) and a reason.
func (s *Store) AgentState(ctx context.Context, agentID, state, reason string) error {
	return agentStateScript.Run(ctx, s.rdb, nil, s.nowMS(), agentID, state, reason, "", "").Err()
}

// AgentStateFrom is AgentState only from the state from names (its Reason
// is not checked); ok reports whether the agent was in it.
func (s *Store) AgentStateFrom(ctx context.Context, agentID, state, reason string, from From) (bool, error) {
	n, err := agentStateScript.Run(ctx, s.rdb, nil, s.nowMS(), agentID, state, reason, from.States, from.Call).Int()
	return n == 1, err
}

// DeviceGone marks that the agent's phone has no registration left: the
// next time the agent would become ready (after its call and wrap-up, on
// whichever instance) it is logged out instead. Logging in clears it.
func (s *Store) DeviceGone(ctx context.Context, agentID string) error {
	return s.rdb.HSet(ctx, "{sc}:agent:"+agentID, "device", "gone").Err()
}

// RemoveCall forgets an ended call; it reports whether it was still waiting.
func (s *Store) RemoveCall(ctx context.Context, callID string) (bool, error) {
	n, err := removeCallScript.Run(ctx, s.rdb, nil, callID).Int()
	return n == 1, err
}

// SetCallFields records facts about a call for the reaper (e.g. answered).
func (s *Store) SetCallFields(ctx context.Context, callID string, fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return s.rdb.HSet(ctx, "{sc}:call:"+callID, fields).Err()
}

// Agent returns the agent's stored state.
func (s *Store) Agent(ctx context.Context, agentID string) (AgentInfo, error) {
	m, err := s.rdb.HGetAll(ctx, "{sc}:agent:"+agentID).Result()
	if err != nil {
		return AgentInfo{}, err
	}
	return agentInfo(m), nil
}

// Agents returns the stored states of many agents in one round trip (the
// wallboard's and /metrics' picture), in the order of ids.
func (s *Store) Agents(ctx context.Context, ids []string) ([]AgentInfo, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, "{sc}:agent:"+id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]AgentInfo, len(ids))
	for i, c := range cmds {
		out[i] = agentInfo(c.Val())
	}
	return out, nil
}

func agentInfo(m map[string]string) AgentInfo {
	ms, _ := strconv.ParseInt(m["since"], 10, 64)
	info := AgentInfo{State: m["state"], Reason: m["reason"], Call: m["call"], Owner: m["owner"]}
	if info.State == "" {
		info.State = "logged-out"
	}
	if ms > 0 {
		info.Since = time.UnixMilli(ms)
	}
	return info
}

// Position is the call's place in its queue: 1 + the calls ahead of it in
// the fullest of its queues (0 if it is not waiting).
func (s *Store) Position(ctx context.Context, callID string) (int, error) {
	m, err := s.rdb.HMGet(ctx, "{sc}:call:"+callID, "queued", "score").Result()
	if err != nil || m[0] == nil || m[1] == nil {
		return 0, err
	}
	queued, score := m[0].(string), m[1].(string)
	pos := 0
	for _, t := range strings.Split(queued, ";") {
		skill, rest, ok := strings.Cut(t, ":")
		if !ok {
			continue
		}
		lvl, _, _ := strings.Cut(rest, ":") // skill:level:strategy
		n, err := s.rdb.ZCount(ctx, "{sc}:q:"+skill+":"+lvl, "-inf", "("+score).Result()
		if err != nil {
			return 0, err
		}
		pos = max(pos, int(n)+1)
	}
	return pos, nil
}

// Waiting counts the calls waiting for skill (all levels).
func (s *Store) Waiting(ctx context.Context, skill string) (int64, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, 10)
	for l := 1; l <= 10; l++ {
		cmds[l-1] = pipe.ZCard(ctx, "{sc}:q:"+skill+":"+strconv.Itoa(l))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

// LoggedIn counts the agents logged in with skill.
func (s *Store) LoggedIn(ctx context.Context, skill string) (int64, error) {
	return s.rdb.SCard(ctx, "{sc}:loggedin:"+skill).Result()
}

// Staffed counts the agents logged in with skill who are not paused
// (available, ringing, talking or in wrap-up): nobody staffed means no
// call of the skill will be answered soon.
func (s *Store) Staffed(ctx context.Context, skill string) (int64, error) {
	return staffedScript.Run(ctx, s.rdb, nil, skill).Int64()
}

// RecordHandled adds a finished call to the agent's counters (used by the
// fewest-calls and least-talk strategies) and to the skill's average
// handling time including wrap-up (an EWMA with weight 1/5), atomically.
func (s *Store) RecordHandled(ctx context.Context, agentID, skill string, talk, handle time.Duration) error {
	return recordHandledScript.Run(ctx, s.rdb, nil, agentID, skill, talk.Milliseconds(), handle.Milliseconds()).Err()
}

// HandleTime is the skill's average handling time incl. wrap-up (0 if unknown).
func (s *Store) HandleTime(ctx context.Context, skill string) (time.Duration, error) {
	ms, err := s.rdb.HGet(ctx, "{sc}:stats:"+skill, "aht_ms").Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return time.Duration(ms) * time.Millisecond, err
}

// NoAnswer counts a consecutive unanswered offer and returns the count;
// ResetNoAnswer clears it when the agent answers.
func (s *Store) NoAnswer(ctx context.Context, agentID string) (int64, error) {
	return s.rdb.HIncrBy(ctx, "{sc}:agent:"+agentID, "noanswer", 1).Result()
}

// ResetNoAnswer clears the consecutive no-answer count.
func (s *Store) ResetNoAnswer(ctx context.Context, agentID string) error {
	return s.rdb.HSet(ctx, "{sc}:agent:"+agentID, "noanswer", 0).Err()
}

// Heartbeat renews the instance's lease for ttl and notes when it was
// last seen alive (kept after the lease expires: the reaper ends the dead
// instance's calls at that time).
func (s *Store) Heartbeat(ctx context.Context, instance string, ttl time.Duration) error {
	now := s.nowMS()
	pipe := s.lease.Pipeline()
	pipe.Set(ctx, "{sc}:lease:"+instance, now, ttl)
	pipe.Set(ctx, "{sc}:seen:"+instance, now, 0)
	pipe.SAdd(ctx, "{sc}:instances", instance)
	_, err := pipe.Exec(ctx)
	return err
}

// LastSeen is the instance's last heartbeat (zero if none is known).
func (s *Store) LastSeen(ctx context.Context, instance string) (time.Time, error) {
	ms, err := s.rdb.Get(ctx, "{sc}:seen:"+instance).Int64()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), nil
}

// Release gives up the instance's lease at once (clean shutdown).
func (s *Store) Release(ctx context.Context, instance string) error {
	return s.lease.Del(ctx, "{sc}:lease:"+instance).Err()
}

// DeadInstances lists instances whose lease has expired.
func (s *Store) DeadInstances(ctx context.Context) ([]string, error) {
	all, err := s.rdb.SMembers(ctx, "{sc}:instances").Result()
	if err != nil {
		return nil, err
	}
	var dead []string
	for _, in := range all {
		n, err := s.rdb.Exists(ctx, "{sc}:lease:"+in).Result()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			dead = append(dead, in)
		}
	}
	return dead, nil
}

// Reap takes over a dead instance and returns its calls' stored fields
// (call id under "id"), so the reaper can write their CDRs. Only one
// reaper gets them.
func (s *Store) Reap(ctx context.Context, dead string) ([]map[string]string, error) {
	return s.reap(ctx, dead, "0")
}

// ReapOwn clears what a previous run of this instance left (its calls died
// with it) and returns those calls for CDRs. Its agents keep their states:
// their phones register again. Call it at start, before taking calls.
func (s *Store) ReapOwn(ctx context.Context, instance string) ([]map[string]string, error) {
	return s.reap(ctx, instance, "1")
}

// DevicePresent clears a "device gone" mark when the agent's phone
// registers again.
func (s *Store) DevicePresent(ctx context.Context, agentID string) error {
	return s.rdb.HSet(ctx, "{sc}:agent:"+agentID, "device", "").Err()
}

func (s *Store) reap(ctx context.Context, dead, restart string) ([]map[string]string, error) {
	v, err := reapScript.Run(ctx, s.rdb, nil, s.nowMS(), dead, restart).Slice()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, c := range v {
		kv, _ := c.([]any)
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			val, _ := kv[i+1].(string)
			m[k] = val
		}
		out = append(out, m)
	}
	return out, nil
}

// NextAssignment waits up to timeout for a match for a call the instance
// owns, or for a callback any instance may run (Owner CallbackOwner: claim
// it with ClaimCallback); nil when none came.
func (s *Store) NextAssignment(ctx context.Context, instance string, timeout time.Duration) (*Match, error) {
	return s.nextAssignment(ctx, instance, timeout, "{sc}:assign:"+instance, "{sc}:assign:"+CallbackOwner)
}

// NextOwnAssignment is NextAssignment without the callbacks (a draining
// instance starts none).
func (s *Store) NextOwnAssignment(ctx context.Context, instance string, timeout time.Duration) (*Match, error) {
	return s.nextAssignment(ctx, instance, timeout, "{sc}:assign:"+instance)
}

func (s *Store) nextAssignment(ctx context.Context, instance string, timeout time.Duration, keys ...string) (*Match, error) {
	v, err := s.rdb.BLPop(ctx, timeout, keys...).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if sig, rest, ok := strings.Cut(v[1], " "); ok && strings.HasPrefix(sig, "!") {
		agent, call, _ := strings.Cut(rest, " ")
		return &Match{CallID: call, AgentID: agent, Owner: instance, Signal: sig[1:]}, nil
	}
	call, agent, _ := strings.Cut(v[1], " ")
	if v[0] == "{sc}:assign:"+CallbackOwner {
		instance = CallbackOwner
	}
	return &Match{CallID: call, AgentID: agent, Owner: instance}, nil
}

// SignalWrapup sends signal (SignalReady, SignalExtend) for an agent in
// wrap-up to the instance that runs it, whichever that is; ok is false
// when the agent is not in wrap-up.
func (s *Store) SignalWrapup(ctx context.Context, agentID, signal string) (bool, error) {
	err := signalWrapupScript.Run(ctx, s.rdb, nil, agentID, signal).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

func match(v any, err error) (*Match, error) {
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 3 {
		return nil, nil
	}
	m := &Match{}
	m.CallID, _ = a[0].(string)
	m.AgentID, _ = a[1].(string)
	m.Owner, _ = a[2].(string)
	return m, nil
}

// CallEvent is one entry of the call audit stream, in Redis order.
type CallEvent struct {
	Call, Event, Queued string
	Score               int64
}

// CallEvents returns the call audit stream (queued, reserved, removed).
func (s *Store) CallEvents(ctx context.Context) ([]CallEvent, error) {
	msgs, err := s.rdb.XRange(ctx, "{sc}:callevents", "-", "+").Result()
	if err != nil {
		return nil, err
	}
	out := make([]CallEvent, 0, len(msgs))
	for _, m := range msgs {
		str := func(k string) string { v, _ := m.Values[k].(string); return v }
		sc, _ := strconv.ParseInt(str("score"), 10, 64)
		out = append(out, CallEvent{Call: str("call"), Event: str("event"), Queued: str("queued"), Score: sc})
	}
	return out, nil
}

// OwnedCalls counts the calls the store still holds for an instance.
func (s *Store) OwnedCalls(ctx context.Context, instance string) (int64, error) {
	return s.rdb.SCard(ctx, "{sc}:calls:"+instance).Result()
}

// StoredBinding is one registered device as kept in the store, so that
// every instance can reach every agent.
type StoredBinding struct {
	Contact   string    `json:"contact"`
	Source    string    `json:"source"`
	Transport string    `json:"transport"`
	Instance  string    `json:"instance"`
	Expires   time.Time `json:"expires"`
}

// SaveBindings replaces a SIP user's bindings; the key expires with the
// last of them.
func (s *Store) SaveBindings(ctx context.Context, user string, bs []StoredBinding) error {
	key := "{sc}:reg:" + user
	var last time.Time
	for _, b := range bs {
		if b.Expires.After(last) {
			last = b.Expires
		}
	}
	ttl := time.Until(last)
	if len(bs) == 0 || ttl <= 0 {
		return s.rdb.Del(ctx, key).Err()
	}
	data, err := json.Marshal(bs)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, key, data, ttl).Err()
}

// LoadBindings returns a SIP user's unexpired bindings from the store.
func (s *Store) LoadBindings(ctx context.Context, user string) ([]StoredBinding, error) {
	data, err := s.rdb.Get(ctx, "{sc}:reg:"+user).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var bs []StoredBinding
	if err := json.Unmarshal(data, &bs); err != nil {
		return nil, fmt.Errorf("bindings of %s: %w", user, err)
	}
	now := s.Now()
	live := bs[:0]
	for _, b := range bs {
		if b.Expires.After(now) {
			live = append(live, b)
		}
	}
	return live, nil
}

// UseNonce records that a digest nonce was used with nonce count nc and
// reports whether that count is new: above every count used with the
// nonce before, on any instance. The record lives as long as the nonce.
func (s *Store) UseNonce(ctx context.Context, nonce string, nc int, ttl time.Duration) (bool, error) {
	n, err := useNonceScript.Run(ctx, s.rdb, []string{"{sc}:nc:" + nonce}, nc, max(1, ttl.Milliseconds())).Int()
	return n == 1, err
}

// SetCrisis switches a municipality's crisis mode for all instances and
// appends who did it to the audit stream {sc}:audit.
func (s *Store) SetCrisis(ctx context.Context, municipality string, on bool, by string) error {
	pipe := s.rdb.TxPipeline()
	if on {
		pipe.Set(ctx, "{sc}:crisis:"+municipality, by, 0)
	} else {
		pipe.Del(ctx, "{sc}:crisis:"+municipality)
	}
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: "{sc}:audit", MaxLen: 10000, Approx: true,
		Values: map[string]any{"what": "crisis", "municipality": municipality, "on": strconv.FormatBool(on), "by": by, "t": s.nowMS()}})
	_, err := pipe.Exec(ctx)
	return err
}

// Crisis reports whether a municipality is in crisis mode.
func (s *Store) Crisis(ctx context.Context, municipality string) (bool, error) {
	n, err := s.rdb.Exists(ctx, "{sc}:crisis:"+municipality).Result()
	return n == 1, err
}

// CallFields returns a live call's stored fields (none if it is over).
func (s *Store) CallFields(ctx context.Context, callID string) (map[string]string, error) {
	return s.rdb.HGetAll(ctx, "{sc}:call:"+callID).Result()
}

// SetLiveCallField sets one field of a call that is still live and
// reports whether it was (a call that is over gets no stray record).
func (s *Store) SetLiveCallField(ctx context.Context, callID, field, value string) (bool, error) {
	n, err := setIfLiveScript.Run(ctx, s.rdb, []string{"{sc}:call:" + callID}, field, value).Int()
	return n == 1, err
}

var setIfLiveScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)
