package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/acd/web"
	"github.com/sc115/sc115/internal/testphone"
)

// webClient signs user in at base with password and returns the browser
// (cookie jar, no redirects followed) and the session's CSRF token.
func webClient(t *testing.T, base, user, password string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(base+"/login", url.Values{"user": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in as %s: %d", user, res.StatusCode)
	}
	res, err = c.Get(base + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var me struct {
		User string `json:"user"`
		CSRF string `json:"csrf"`
	}
	if err := json.NewDecoder(res.Body).Decode(&me); err != nil || me.User != user || me.CSRF == "" {
		t.Fatalf("/api/me as %s: %+v %v", user, me, err)
	}
	return c, me.CSRF
}

// call sends method to base+path with the CSRF token ("" none) and
// returns the status and body.
func call(t *testing.T, c *http.Client, method, u, csrf string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestWebUsersOnTheAPI (issue 15) with the example config's users on the
// real service: the supervisor reads every agent and switches crisis mode
// — recorded as by the signed-in user, not by what the query says — only
// with its session's CSRF token; agent1001 pauses and readies itself but
// not agent 1002, and may not read the calls or switch crisis mode; the
// billing user reads the service level and nothing of the agents; the
// shared demo token still works (deprecated). Without anything: 401.
func TestWebUsersOnTheAPI(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	base := "http://" + s.httpLn.Addr().String()
	sup, csrf := webClient(t, base, "aufsicht", "demo-aufsicht")
	if code, body := call(t, sup, "GET", base+"/api/agents", ""); code != 200 || !strings.Contains(body, `"1002"`) {
		t.Errorf("supervisor GET /api/agents: %d %s", code, body)
	}
	crisis := base + "/api/municipalities/burgdorf/crisis?on=true&by=someone-else"
	if code, _ := call(t, sup, "POST", crisis, ""); code != 403 {
		t.Errorf("crisis without CSRF token: %d, want 403", code)
	}
	if code, body := call(t, sup, "POST", crisis, csrf); code != 200 || !strings.Contains(body, `"by":"aufsicht"`) {
		t.Errorf("crisis with the token: %d %s, want by aufsicht", code, body)
	}
	if code, _ := call(t, sup, "POST", base+"/api/municipalities/burgdorf/crisis?on=false", csrf); code != 200 {
		t.Errorf("crisis off: %d", code)
	}

	ag, acsrf := webClient(t, base, "agent1001", "demo-agent1001")
	_ = s.engine.Login("1001") // logged in already, or now
	waitAgent(t, s, "1001", acd.AgentAvailable)
	for route, want := range map[string]int{
		"POST /api/agents/1001/pause?reason=training":           200,
		"POST /api/agents/1002/pause":                           403,
		"GET /api/calls":                                        403,
		"GET /api/agents":                                       403,
		"POST /api/municipalities/burgdorf/crisis?on=true&by=x": 403,
		"GET /api/municipalities/burgdorf/directory":            200,
		"GET /api/servicelevel":                                 200,
	} {
		method, path, _ := strings.Cut(route, " ")
		if code, body := call(t, ag, method, base+path, acsrf); code != want {
			t.Errorf("agent1001 %s: %d %s, want %d", route, code, body, want)
		}
	}

	bill, _ := webClient(t, base, "abrechnung", "demo-abrechnung")
	if code, _ := call(t, bill, "GET", base+"/api/servicelevel", ""); code != 200 {
		t.Errorf("billing GET /api/servicelevel: %d", code)
	}
	if code, _ := call(t, bill, "GET", base+"/api/agents", ""); code != 403 {
		t.Errorf("billing GET /api/agents: %d, want 403", code)
	}
	if code, _ := httpGetBearer(t, base+"/api/agents", "demo-token"); code != 200 {
		t.Errorf("the shared demo token: %d, want 200", code)
	}
	if code, _ := httpGetBearer(t, base+"/api/agents", ""); code != 401 {
		t.Errorf("no credentials: %d, want 401", code)
	}
}

// TestConsoleTransfer (issue 15 with 14): agent 1003's console transfers
// its caller to the Bürgerbüro with one click (the API the button calls):
// the office behind the trunk rings, the agent's phone gets BYE and no
// NOTIFY (it asked for nothing), caller and office hear each other, and
// the row says blind to the office's number by 1003. A closed or unknown
// target is refused with the reason, and nothing happens to the call.
func TestConsoleTransfer(t *testing.T) {
	office, err := testphone.New("buergerbuero", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer office.Close()
	cfg := transferConfig(t, office.Addr)
	cfg.Web.Users = append(cfg.Web.Users, web.User{Name: "agent1003", PasswordHash: cfg.Web.Users[1].PasswordHash, Roles: []string{acd.RoleAgent}, Agent: "1003"})
	s := startTest(t, cfg)
	base := "http://" + s.httpLn.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, call1, in := callAnsweredBy(ctx, t, s.sip.Addr().String(), "1003")
	console, csrf := webClient(t, base, "agent1003", "demo-agent1001") // the demo hash of agent1001's password
	if code, body := call(t, console, "POST", base+"/api/agents/1003/transfer?target=nowhere", csrf); code != 400 || !strings.Contains(body, "404") {
		t.Errorf("console transfer to nothing: %d %s, want 400 with the 404 a REFER would get", code, body)
	}
	code, body := call(t, console, "POST", base+"/api/agents/1003/transfer?target=buergerbuero", csrf)
	if code != 200 || !strings.Contains(body, `"target":"+4951361890"`) || !strings.Contains(body, `"kind":"blind"`) {
		t.Fatalf("console transfer: %d %s", code, body)
	}
	officeIn, err := office.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.Ended():
	case <-time.After(30 * time.Second):
		t.Fatal("the agent's phone was not hung up after the console's transfer")
	}
	select {
	case n := <-in.Notifies:
		t.Errorf("the phone was sent NOTIFY %q for a transfer it did not ask for", n)
	default:
	}
	talkBothWays(t, call1, officeIn, nil)
	_ = officeIn.Bye(ctx)
	row := waitCDR(t, cfg.CDR.Dir, call1.CallID, time.Minute)
	if row["transfer_kind"] != "blind" || row["transfer_target"] != "+4951361890" || row["transferred_by"] != "1003" {
		t.Errorf("row %v", row)
	}
}
