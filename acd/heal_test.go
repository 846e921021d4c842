package acd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/queue"
)

// faultyStore fails a share of the store's calls while faulty is set, as a
// flapping Redis does: half of the failures before the command runs
// (connection refused), half after (a timeout: Redis did it, the client
// does not know).
type faultyStore struct {
	Store
	faulty atomic.Bool
	failed atomic.Int64
}

var errFlap = errors.New("i/o timeout")

// fail decides for one call; after says the command runs anyway.
func (f *faultyStore) fail() (fail, after bool) {
	if !f.faulty.Load() || rand.IntN(4) != 0 {
		return false, false
	}
	f.failed.Add(1)
	return true, rand.IntN(2) == 0
}

func faulty[T any](f *faultyStore, run func() (T, error)) (T, error) {
	fail, after := f.fail()
	if !fail {
		return run()
	}
	var zero T
	if after {
		_, _ = run()
	}
	return zero, errFlap
}

func (f *faultyStore) EnqueueAttempt(ctx context.Context, attempt, callID, owner string, score int64, ts []queue.Target, fields map[string]string) (*queue.Match, error) {
	return faulty(f, func() (*queue.Match, error) {
		return f.Store.EnqueueAttempt(ctx, attempt, callID, owner, score, ts, fields)
	})
}
func (f *faultyStore) AgentReadyFrom(ctx context.Context, a string, from queue.From) (*queue.Match, error) {
	return faulty(f, func() (*queue.Match, error) { return f.Store.AgentReadyFrom(ctx, a, from) })
}
func (f *faultyStore) AgentStateFrom(ctx context.Context, a, state, reason string, from queue.From) (bool, error) {
	return faulty(f, func() (bool, error) { return f.Store.AgentStateFrom(ctx, a, state, reason, from) })
}
func (f *faultyStore) RemoveCall(ctx context.Context, c string) (bool, error) {
	return faulty(f, func() (bool, error) { return f.Store.RemoveCall(ctx, c) })
}
func (f *faultyStore) SetCallFields(ctx context.Context, c string, fields map[string]string) error {
	_, err := faulty(f, func() (struct{}, error) { return struct{}{}, f.Store.SetCallFields(ctx, c, fields) })
	return err
}
func (f *faultyStore) RecordHandled(ctx context.Context, a, skill string, talk, handle time.Duration) error {
	_, err := faulty(f, func() (struct{}, error) { return struct{}{}, f.Store.RecordHandled(ctx, a, skill, talk, handle) })
	return err
}
func (f *faultyStore) NoAnswer(ctx context.Context, a string) (int64, error) {
	return faulty(f, func() (int64, error) { return f.Store.NoAnswer(ctx, a) })
}
func (f *faultyStore) Agent(ctx context.Context, a string) (queue.AgentInfo, error) {
	return faulty(f, func() (queue.AgentInfo, error) { return f.Store.Agent(ctx, a) })
}
func (f *faultyStore) Unqueue(ctx context.Context, c, state string) (bool, error) {
	return faulty(f, func() (bool, error) { return f.Store.Unqueue(ctx, c, state) })
}
func (f *faultyStore) Claim(ctx context.Context, a, c string) (bool, error) {
	return faulty(f, func() (bool, error) { return f.Store.Claim(ctx, a, c) })
}

// checkHealed asserts what no fault may leave behind: within 10 s no agent
// engaged with a call and no call left in the store for the instances;
// never an agent offered a call while busy; exactly one CDR per call, for
// calls calls. It returns the dispositions.
func checkHealed(t *testing.T, st *queue.Store, ids []string, tr *tracker, rows *collect, calls int, instances ...string) map[cdr.Disposition]int {
	t.Helper()
	var left []queue.Engaged
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if left = engagedAgents(t, st, ids); len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("%d agents still engaged 10 s after the fault ended, e.g. %+v", len(left), left[0])
	}
	tr.mu.Lock()
	if len(tr.errs) > 0 {
		t.Errorf("%d double bookings, first: %v", len(tr.errs), tr.errs[:min(5, len(tr.errs))])
	}
	tr.mu.Unlock()
	// The failed record removals are retried: nothing is left for a reaper
	// to write a second row for.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var n int64
		for _, in := range instances {
			k, _ := st.OwnedCalls(context.Background(), in)
			n += k
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the store still holds %d ended calls", n)
			break
		}
	}
	if n := rows.count(); n != calls {
		t.Errorf("%d calls have CDRs, want %d", n, calls)
	}
	hist := map[cdr.Disposition]int{}
	rows.mu.Lock()
	for id, r := range rows.rows {
		if len(r) != 1 {
			t.Errorf("call %s has %d CDRs", id, len(r))
		}
		hist[r[0].Disposition]++
	}
	rows.mu.Unlock()
	t.Logf("dispositions: %v", hist)
	return hist
}

// engagedAgents lists the agents the store shows on a call.
func engagedAgents(t *testing.T, st *queue.Store, ids []string) []queue.Engaged {
	t.Helper()
	g, err := st.EngagedAgents(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var out []queue.Engaged
	for _, x := range g {
		if !x.Missing {
			out = append(out, x)
		}
	}
	return out
}

// TestAgentsHealAfterStoreFaults (issue 13, 1): two instances share one
// store that fails a quarter of the writes of every agent transition and
// call record (before or after executing them) while 1,500 calls come and
// go with declines, ring-outs and hang-ups on either side. No agent is
// ever offered a call while ringing or talking on another; once the store
// is healthy again, no agent is left engaged with a call within 10 s of
// the last call's end, every call has exactly one CDR, and the store holds
// no call any more.
func TestAgentsHealAfterStoreFaults(t *testing.T) {
	calls := 1500
	if testing.Short() {
		calls = 300
	}
	st, err := queue.Open(context.Background(), queue.Config{Redis: interop.RedisServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := multiConfig(40)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tr := &tracker{agentBusy: map[string]string{}, callRing: map[string]string{}}
	rows := &collect{rows: map[string][]cdr.Record{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fs := &faultyStore{Store: st}
	var engines []*Engine
	for i := 0; i < 2; i++ {
		e := NewEngine(cfg, Deps{Instance: fmt.Sprintf("heal-%d", i), Store: fs, Dialer: &chaosDialer{tr: tr}, CDRs: rows,
			Privacy: cdr.NewPrivacy(cdr.Config{CallerPolicy: "shorten"}), Log: zerolog.New(os.Stderr).Level(zerolog.Disabled)})
		e.Prepare(ctx)
		go e.Run(ctx)
		engines = append(engines, e)
	}
	for i, a := range cfg.Agents {
		engines[i%2].AgentRegistered(a.ID)
	}
	fs.faulty.Store(os.Getenv("NOFAULT") == "")
	var wg sync.WaitGroup
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			leg := newFakeLeg(fmt.Sprintf("heal-%05d", i), fmt.Sprintf("+4951%d115", 30+rand.IntN(4)))
			go func() {
				select {
				case <-leg.connected:
					time.Sleep(time.Duration(5+rand.IntN(30)) * time.Millisecond)
				case <-time.After(time.Duration(rand.IntN(3000)) * time.Millisecond): // gives up waiting
				}
				leg.end()
			}()
			engines[rand.IntN(2)].HandleCall(leg)
		}(i)
		time.Sleep(time.Duration(rand.IntN(6000)) * time.Microsecond)
	}
	wg.Wait()
	fs.faulty.Store(false)
	t.Logf("%d store calls failed", fs.failed.Load())
	if fs.failed.Load() < 100 && os.Getenv("NOFAULT") == "" {
		t.Fatalf("only %d store calls failed: the test tested little", fs.failed.Load())
	}
	hist := checkHealed(t, st, engines[0].agentIDs, tr, rows, calls, "heal-0", "heal-1")
	if hist[cdr.Answered] < calls/4 {
		t.Errorf("only %d of %d calls answered", hist[cdr.Answered], calls)
	}
	// And the agents take calls again.
	leg := newFakeLeg("after", "+495130115")
	go func() { <-leg.connected; leg.end() }()
	engines[0].HandleCall(leg)
	if r := rows.rows["after"]; len(r) != 1 || r[0].Disposition != cdr.Answered {
		t.Errorf("a call after the faults: %+v, want answered", r)
	}
}

// releaseFailsStore fails every release of one agent: the write, and its
// retries, never get through.
type releaseFailsStore struct {
	Store
	agent string
}

func (s *releaseFailsStore) AgentReadyFrom(ctx context.Context, a string, from queue.From) (*queue.Match, error) {
	if a == s.agent {
		return nil, errFlap
	}
	return s.Store.AgentReadyFrom(ctx, a, from)
}

// TestReconciliationFreesAnAgentWhoseReleaseNeverArrives: the end of a1's
// wrap-up can never be written; the call is over and nobody owns it, so
// the reconciliation makes a1 ready again within a few periods, and a1
// takes the next call.
func TestReconciliationFreesAnAgentWhoseReleaseNeverArrives(t *testing.T) {
	e, d, s := testEngineDeps(t, func(dp *Deps) { dp.Store = &releaseFailsStore{Store: dp.Store, agent: "a1"} })
	e.AgentRegistered("a1")
	waitAgentState(t, e, "a1", AgentAvailable)
	leg := newFakeLeg("c-1", "+495136115")
	go e.HandleCall(leg)
	al := connect(t, d)
	al.Hangup()
	if r := waitRec(t, s); r.Disposition != cdr.Answered || r.Agent != "a1" {
		t.Fatalf("cdr %+v", r)
	}
	if st := e.AgentStates()["a1"]; st != AgentWrapUp {
		t.Fatalf("a1 is %s after its wrap-up could not be ended, want wrap-up (stuck)", st)
	}
	start := time.Now()
	waitAgentState(t, e, "a1", AgentAvailable)
	t.Logf("a1 freed %v after its call", time.Since(start).Round(time.Millisecond))
	next := newFakeLeg("c-2", "+495136115")
	go e.HandleCall(next)
	connect(t, d).Hangup()
	if r := waitRec(t, s); r.CallID != "c-2" || r.Agent != "a1" {
		t.Errorf("cdr %+v, want c-2 answered by a1", r)
	}
}

// loseReservationStore makes the store forget an agent's reservation the
// moment its call is answered, as a promoted replica that missed the last
// writes does.
type loseReservationStore struct {
	Store
	st *queue.Store
}

func (s *loseReservationStore) AgentStateFrom(ctx context.Context, a, state, reason string, from queue.From) (bool, error) {
	if state == string(AgentOnCall) {
		for _, g := range engagedOf(s.st, a) {
			_, _, _ = s.st.ReleaseStuck(ctx, a, g.Call, g.Since, g.State) // the reservation is gone: available
		}
	}
	return s.Store.AgentStateFrom(ctx, a, state, reason, from)
}

func engagedOf(st *queue.Store, agent string) []queue.Engaged {
	g, _ := st.EngagedAgents(context.Background(), []string{agent})
	return g
}

// TestLostReservationIsClaimed: when the store lost the reservation of an
// agent whose phone answered (a failover), the agent is claimed for that
// call — on-call, not available — so a second call waits instead of
// ringing a talking agent; after the first call the agent takes it.
func TestLostReservationIsClaimed(t *testing.T) {
	e, d, s := testEngineDeps(t, func(dp *Deps) {
		dp.Store = &loseReservationStore{Store: dp.Store, st: dp.Store.(*queue.Store)}
	})
	e.AgentRegistered("a1")
	waitAgentState(t, e, "a1", AgentAvailable)
	first := newFakeLeg("c-first", "+495136115")
	go e.HandleCall(first)
	al := connect(t, d)
	waitCallState(t, e, "c-first", StateConnected)
	if info, _ := e.Store.Agent(context.Background(), "a1"); info.State != string(AgentOnCall) || info.Call != "c-first" {
		t.Fatalf("a1 %+v after its lost reservation, want on-call for c-first", info)
	}
	second := newFakeLeg("c-second", "+495136115")
	go e.HandleCall(second)
	waitCallState(t, e, "c-second", StateQueued)
	d.mu.Lock()
	offers := append([]string(nil), d.offers...)
	d.mu.Unlock()
	if len(offers) != 1 {
		t.Errorf("offers %v while a1 talks, want only c-first", offers)
	}
	al.Hangup()
	waitRec(t, s)
	connect(t, d).Hangup()
	if r := waitRec(t, s); r.CallID != "c-second" || r.Agent != "a1" {
		t.Errorf("cdr %+v, want c-second answered by a1 after its first call", r)
	}
}

// removeFailsStore cannot remove call records (the store is away at the
// end of the call).
type removeFailsStore struct{ Store }

func (removeFailsStore) RemoveCall(context.Context, string) (bool, error) { return false, errFlap }

// writtenCollect is a CDR sink that, like cdr.Writer, says which calls
// have rows.
type writtenCollect struct{ *collect }

func (w writtenCollect) Written(ids []string, _ time.Time) (map[string]bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]bool{}
	for _, id := range ids {
		if len(w.rows[id]) > 0 {
			out[id] = true
		}
	}
	return out, nil
}

// TestRestartWritesNoSecondRow (issue 13, 5): a call ends and gets its
// row, but its record cannot be removed from the store; the instance is
// killed and started again: it ends what its previous run left — but
// not with a second row for that call, while a call that really died
// with it gets its row.
func TestRestartWritesNoSecondRow(t *testing.T) {
	url := interop.RedisServer(t)
	cfg := multiConfig(4)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rows := writtenCollect{&collect{rows: map[string][]cdr.Record{}}}
	start := func(wrap func(Store) Store) (*Engine, *queue.Store, context.CancelFunc) {
		st, err := queue.Open(context.Background(), queue.Config{Redis: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		e := NewEngine(cfg, Deps{Instance: "X", Store: wrap(st), Dialer: &fakeDialer{decline: map[string]bool{}, legs: make(chan *fakeAgentLeg, 8)},
			CDRs: rows, Privacy: cdr.NewPrivacy(cdr.Config{CallerPolicy: "shorten"}), Log: zerolog.Nop()})
		ctx, cancel := context.WithCancel(context.Background())
		e.Prepare(ctx)
		go e.Run(ctx)
		return e, st, cancel
	}
	e1, st1, kill := start(func(s Store) Store { return removeFailsStore{s} })
	ended := newFakeLeg("ended-before", "+495131115")
	go e1.HandleCall(ended)
	waitCallState(t, e1, "ended-before", StateQueued)
	ended.end()
	go e1.HandleCall(newFakeLeg("died-with-it", "+495131115"))
	waitOwnedCalls(t, st1, "X", 2) // the first's record could not be removed
	for deadline := time.Now().Add(20 * time.Second); rows.count() < 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no row for the call that ended")
		}
	}
	kill()

	_, _, stop := start(func(s Store) Store { return s })
	defer stop()
	rows.mu.Lock()
	defer rows.mu.Unlock()
	if n := len(rows.rows["ended-before"]); n != 1 {
		t.Errorf("the call that ended before the restart has %d rows, want 1", n)
	}
	if r := rows.rows["died-with-it"]; len(r) != 1 || r[0].Disposition != cdr.Interrupted {
		t.Errorf("the call that died with the first run: %+v, want one interrupted row", r)
	}
}

// flakyEnqueueStore fails the first enqueue tries: after Redis ran them
// (a timeout: the reply is lost) or before.
type flakyEnqueueStore struct {
	Store
	after bool
	fails atomic.Int32
}

func (f *flakyEnqueueStore) EnqueueAttempt(ctx context.Context, attempt, callID, owner string, score int64, ts []queue.Target, fields map[string]string) (*queue.Match, error) {
	if f.fails.Add(-1) >= 0 {
		if f.after {
			_, _ = f.Store.EnqueueAttempt(ctx, attempt, callID, owner, score, ts, fields)
		}
		return nil, errFlap
	}
	return f.Store.EnqueueAttempt(ctx, attempt, callID, owner, score, ts, fields)
}

// TestEnqueueTimeoutKeepsTheCaller (issue 13, 6): a store timeout while
// the call is queued — whether Redis ran the enqueue or not — does not
// drop the caller: the enqueue is retried, the agent is offered the call
// once, and the call has one row, answered.
func TestEnqueueTimeoutKeepsTheCaller(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(map[bool]string{false: "before-running", true: "after-running"}[after], func(t *testing.T) {
			e, d, s := testEngineDeps(t, func(dp *Deps) {
				f := &flakyEnqueueStore{Store: dp.Store, after: after}
				f.fails.Store(2)
				dp.Store = f
			})
			e.AgentRegistered("a1")
			waitAgentState(t, e, "a1", AgentAvailable)
			leg := newFakeLeg("c-flaky", "+495136115")
			go e.HandleCall(leg)
			al := connect(t, d)
			waitCallState(t, e, "c-flaky", StateConnected)
			al.Hangup()
			if r := waitRec(t, s); r.CallID != "c-flaky" || r.Disposition != cdr.Answered || r.Agent != "a1" {
				t.Errorf("cdr %+v, want c-flaky answered by a1", r)
			}
			d.mu.Lock()
			offers := append([]string(nil), d.offers...)
			d.mu.Unlock()
			if len(offers) != 1 {
				t.Errorf("offers %v, want one", offers)
			}
		})
	}
}
