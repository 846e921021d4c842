package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/testphone"
)

// boardStream opens the wallboard's event stream with the client's
// session and delivers each picture.
func boardStream(ctx context.Context, t *testing.T, c *http.Client, base string) <-chan acd.Board {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/wallboard/events", nil)
	sc := &http.Client{Jar: c.Jar} // no timeout: a stream
	res, err := sc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("event stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan acd.Board, 16)
	go func() {
		defer res.Body.Close()
		defer close(out)
		r := bufio.NewReader(res.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var b acd.Board
				if json.Unmarshal([]byte(data), &b) == nil {
					select {
					case out <- b:
					default:
					}
				}
			}
		}
	}()
	return out
}

// muniOf finds a municipality on the board.
func muniOf(b acd.Board, key string) acd.BoardMunicipality {
	for _, m := range b.Municipalities {
		if m.Key == key {
			return m
		}
	}
	return acd.BoardMunicipality{}
}

// waitBoard waits for a picture that satisfies ok.
func waitBoard(t *testing.T, pics <-chan acd.Board, what string, ok func(acd.Board) bool) acd.Board {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case b, open := <-pics:
			if !open {
				t.Fatalf("the event stream ended before %s", what)
			}
			if ok(b) {
				return b
			}
		case <-deadline:
			t.Fatalf("no wallboard picture with %s within 30 s", what)
		}
	}
}

// TestWallboardLive (issue 15): a supervisor's wallboard stream shows a
// caller waiting for Lehrte (nobody logged in there) with its wait going
// up, then — once the caller hung up — the call in today's figures as
// abandoned; the agents with their states. The page itself is served to
// a signed-in user, and sends anyone else to the sign-in page.
func TestWallboardLive(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	base := "http://" + s.httpLn.Addr().String()
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if res, err := anon.Get(base + "/"); err != nil || res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2F" {
		t.Fatalf("the wallboard without a session: %v %v, want 303 to /login", res, err)
	}
	sup, _ := webClient(t, base, "aufsicht", "demo-aufsicht")
	if code, body := call(t, sup, "GET", base+"/", ""); code != 200 || !strings.Contains(body, "Wallboard") || !strings.Contains(body, "EventSource") {
		t.Fatalf("the wallboard page: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pics := boardStream(ctx, t, sup, base)
	first := waitBoard(t, pics, "Lehrte", func(b acd.Board) bool { return muniOf(b, "lehrte").Key == "lehrte" })
	if len(first.Agents) != 6 || first.AgentsByState[acd.AgentLoggedOut] != 6 {
		t.Errorf("agents %d by state %v, want 6 logged out", len(first.Agents), first.AgentsByState)
	}
	caller, err := testphone.New("+495132123456", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	c, err := caller.Dial(ctx, s.sip.Addr().String(), "+495132115", nil)
	if err != nil {
		t.Fatal(err)
	}
	waiting := waitBoard(t, pics, "the caller waiting", func(b acd.Board) bool {
		m := muniOf(b, "lehrte")
		return m.Waiting == 1 && m.LongestWaitSecs >= 1
	})
	if m := muniOf(waiting, "lehrte"); m.Today.Offered != 0 {
		t.Errorf("a waiting call counted as offered already: %+v", m.Today)
	}
	time.Sleep(500 * time.Millisecond)
	_ = c.Bye(ctx)
	done := waitBoard(t, pics, "the call in today's figures", func(b acd.Board) bool { return muniOf(b, "lehrte").Today.Offered == 1 })
	m := muniOf(done, "lehrte")
	if m.Waiting != 0 || m.Today.Abandoned+m.Today.AbandonedShort != 1 || m.Last15.Offered != 1 {
		t.Errorf("after the hang-up: %+v", m)
	}
	// Only the quarter hour with the call is sent, named by its slot (the
	// call arrived seconds ago: this slot or, across a boundary, the last).
	berlin, _ := time.LoadLocation("Europe/Berlin")
	now := time.Now().In(berlin)
	slot := (now.Hour()*60 + now.Minute()) / 15
	if len(m.Intervals) != 1 || m.Intervals[0].Offered != 1 || (m.Intervals[0].Slot != slot && m.Intervals[0].Slot != slot-1) {
		t.Errorf("intervals %+v, want the one call's quarter hour %d", m.Intervals, slot)
	}
}
