package web

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/sc115/sc115/acd"
)

// memStore is the session store of a test: a map with expiry.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) PutSession(_ context.Context, id string, data []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = data
	return nil
}
func (s *memStore) GetSession(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id], nil
}
func (s *memStore) DropSession(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

func quickHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// testSite serves the sign-in routes and three guarded test routes the
// way acd.API guards its own: a supervisor read, an agent action on an
// agent id, a supervisor change.
func testSite(t *testing.T, edit ...func(*Config)) (*httptest.Server, *Auth, string) {
	t.Helper()
	cfg := Defaults()
	token := NewToken()
	cfg.Users = []User{
		{Name: "aufsicht", PasswordHash: quickHash(t, "geheim-aufsicht"), Roles: []string{acd.RoleSupervisor}},
		{Name: "agent1001", PasswordHash: quickHash(t, "geheim-1001"), Roles: []string{acd.RoleAgent}, Agent: "1001"},
		{Name: "robot", TokenHash: HashToken(token), Roles: []string{acd.RoleBilling}},
	}
	for _, e := range edit {
		e(&cfg)
	}
	if errs := cfg.Validate(map[string]bool{"1001": true, "1002": true}); len(errs) > 0 {
		t.Fatal(errs)
	}
	a := New(cfg, "legacy-token", &memStore{m: map[string][]byte{}}, false, zerolog.Nop())
	mux := http.NewServeMux()
	a.Mount(mux)
	route := func(pattern string, roles ...string) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			who, ok := a.Authorize(w, r, acd.Rule{Roles: roles, Agent: r.PathValue("id")})
			if ok {
				_, _ = w.Write([]byte("ok " + who.User))
			}
		})
	}
	route("GET /api/calls", acd.RoleSupervisor)
	route("POST /api/agents/{id}/ready", acd.RoleAgent, acd.RoleSupervisor)
	route("POST /api/municipalities/{key}/crisis", acd.RoleSupervisor)
	route("GET /api/invoices", acd.RoleBilling)
	srv := httptest.NewServer(Protect(mux))
	t.Cleanup(srv.Close)
	return srv, a, token
}

// browser is a client with a cookie jar that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func signIn(t *testing.T, c *http.Client, srv *httptest.Server, user, pw string) *http.Response {
	t.Helper()
	res, err := c.PostForm(srv.URL+"/login", url.Values{"user": {user}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// csrfOf reads the session's CSRF token from /api/me.
func csrfOf(t *testing.T, c *http.Client, srv *httptest.Server) string {
	t.Helper()
	res, err := c.Get(srv.URL + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	n, _ := res.Body.Read(buf)
	b.Write(buf[:n])
	s := b.String()
	i := strings.Index(s, `"csrf":"`)
	if res.StatusCode != 200 || i < 0 {
		t.Fatalf("/api/me: %d %s", res.StatusCode, s)
	}
	rest := s[i+len(`"csrf":"`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func do(t *testing.T, c *http.Client, method, u, csrf string, header ...string) int {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if csrf != "" {
		req.Header.Set(csrfHeader, csrf)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestSignInSessionsAndRoles: a wrong password gets the sign-in page
// again (401); the right one a session cookie (HttpOnly, SameSite=Strict)
// and the role's start page. With it the supervisor reads and, with the
// session's CSRF token, changes — without the token, or from another
// origin, a change is refused 403. An agent may not use supervisor routes
// nor act on another agent. After sign-out the old cookie is worth
// nothing.
func TestSignInSessionsAndRoles(t *testing.T) {
	srv, _, _ := testSite(t)
	c := browser(t)
	if res := signIn(t, c, srv, "aufsicht", "falsch"); res.StatusCode != 401 {
		t.Errorf("wrong password: %d, want 401", res.StatusCode)
	}
	if code := do(t, c, "GET", srv.URL+"/api/calls", ""); code != 401 {
		t.Errorf("without a session: %d, want 401", code)
	}
	res := signIn(t, c, srv, "aufsicht", "geheim-aufsicht")
	if res.StatusCode != 303 || res.Header.Get("Location") != "/supervisor" {
		t.Fatalf("sign-in: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	cookie := res.Header.Get("Set-Cookie")
	for _, want := range []string{"sc115_session=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if code := do(t, c, "GET", srv.URL+"/api/calls", ""); code != 200 {
		t.Errorf("supervisor read: %d", code)
	}
	crisis := srv.URL + "/api/municipalities/burgdorf/crisis?on=true"
	if code := do(t, c, "POST", crisis, ""); code != 403 {
		t.Errorf("change without CSRF token: %d, want 403", code)
	}
	if code := do(t, c, "POST", crisis, "wrong"); code != 403 {
		t.Errorf("change with a wrong CSRF token: %d, want 403", code)
	}
	csrf := csrfOf(t, c, srv)
	if code := do(t, c, "POST", crisis, csrf); code != 200 {
		t.Errorf("change with the CSRF token: %d, want 200", code)
	}
	if code := do(t, c, "POST", crisis, csrf, "Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("change from another site: %d, want 403", code)
	}
	if code := do(t, c, "GET", srv.URL+"/api/invoices", ""); code != 403 {
		t.Errorf("supervisor on a billing route: %d, want 403", code)
	}

	agent := browser(t)
	if res := signIn(t, agent, srv, "agent1001", "geheim-1001"); res.Header.Get("Location") != "/agent" {
		t.Errorf("agent start page %q", res.Header.Get("Location"))
	}
	acsrf := csrfOf(t, agent, srv)
	for route, want := range map[string]int{
		"POST /api/agents/1001/ready":                    200,
		"POST /api/agents/1002/ready":                    403,
		"GET /api/calls":                                 403,
		"POST /api/municipalities/burgdorf/crisis?on=on": 403,
	} {
		method, path, _ := strings.Cut(route, " ")
		if code := do(t, agent, method, srv.URL+path, acsrf); code != want {
			t.Errorf("agent %s: %d, want %d", route, code, want)
		}
	}

	req, _ := http.NewRequest("POST", srv.URL+"/logout", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil || res.StatusCode != 303 {
		t.Fatalf("sign-out: %v %v", res, err)
	}
	res.Body.Close()
	u, _ := url.Parse(srv.URL)
	stale := &http.Client{}
	r2, _ := http.NewRequest("GET", srv.URL+"/api/calls", nil)
	r2.AddCookie(&http.Cookie{Name: sessionCookie, Value: strings.TrimPrefix(strings.Split(cookie, ";")[0], "sc115_session=")})
	if res, err := stale.Do(r2); err != nil || res.StatusCode != 401 {
		t.Errorf("the old cookie after sign-out: %v %v, want 401", res, err)
	}
	if n := len(c.Jar.Cookies(u)); n != 0 {
		t.Errorf("the browser still has %d cookies after sign-out", n)
	}
}

// TestBearerTokens: a user's token works with that user's roles only; the
// deprecated shared acd.api_token may still do everything; a wrong token
// is 401. A token request needs no CSRF token (no cookie, no CSRF).
func TestBearerTokens(t *testing.T) {
	srv, _, token := testSite(t)
	c := &http.Client{}
	if code := do(t, c, "GET", srv.URL+"/api/invoices", "", "Authorization", "Bearer "+token); code != 200 {
		t.Errorf("robot on its billing route: %d", code)
	}
	if code := do(t, c, "GET", srv.URL+"/api/calls", "", "Authorization", "Bearer "+token); code != 403 {
		t.Errorf("robot on a supervisor route: %d, want 403", code)
	}
	if code := do(t, c, "POST", srv.URL+"/api/municipalities/burgdorf/crisis", "", "Authorization", "Bearer legacy-token"); code != 200 {
		t.Errorf("legacy token: %d, want 200", code)
	}
	if code := do(t, c, "GET", srv.URL+"/api/calls", "", "Authorization", "Bearer nope"); code != 401 {
		t.Errorf("wrong token: %d, want 401", code)
	}
}

// TestLockoutSparesTheRealUser: five wrong passwords for agent1001 from
// one address lock that address out for that user — even the right
// password is refused there, with the same answer — while agent1001 signs
// in from its own desk at once. The lock ends after login_lockout.
func TestLockoutSparesTheRealUser(t *testing.T) {
	_, a, _ := testSite(t)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	a.lock.now = a.now
	mux := http.NewServeMux()
	a.Mount(mux)
	try := func(from, pw string) int {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"user": {"agent1001"}, "password": {pw}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = from + ":40000"
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code
	}
	for i := 0; i < 5; i++ {
		if code := try("203.0.113.9", "guess"); code != 401 {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	if code := try("203.0.113.9", "geheim-1001"); code != 401 {
		t.Errorf("the right password from the locked address: %d, want 401", code)
	}
	if code := try("10.1.2.3", "geheim-1001"); code != 303 {
		t.Errorf("the real agent from its desk: %d, want 303 (signed in)", code)
	}
	now = now.Add(16 * time.Minute)
	if code := try("203.0.113.9", "geheim-1001"); code != 303 {
		t.Errorf("after the lockout: %d, want 303", code)
	}
}

// TestConfigValidate names each wrong field.
func TestConfigValidate(t *testing.T) {
	cfg := Defaults()
	cfg.Users = []User{
		{Name: "Aufsicht", PasswordHash: "plain", Roles: []string{"boss"}},
		{Name: "a", Roles: []string{"agent"}},
		{Name: "a", TokenHash: "sha256:00", Roles: []string{"agent"}, Agent: "9999"},
	}
	var got []string
	for _, err := range cfg.Validate(map[string]bool{"1001": true}) {
		got = append(got, err.Error())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"web.users[0].name", "web.users[0].password_hash", "web.users[0].roles[0]", "web.users[1]: needs password_hash or token_hash",
		"web.users[1].agent: an agent-role user needs", "web.users[2].name: \"a\" is there twice", "web.users[2].token_hash", "web.users[2].agent: \"9999\""} {
		if !strings.Contains(all, want) {
			t.Errorf("no error for %s in:\n%s", want, all)
		}
	}
}

// TestSignInReturnsToThePage: a page sends a browser without a session
// to the sign-in page with where it was; after signing in it is back
// there — but only ever to a path of this site.
func TestSignInReturnsToThePage(t *testing.T) {
	srv, _, _ := testSite(t)
	c := browser(t)
	res, err := c.PostForm(srv.URL+"/login", url.Values{"user": {"aufsicht"}, "password": {"geheim-aufsicht"}, "next": {"/agent"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Location"); got != "/agent" {
		t.Errorf("after sign-in with next=/agent: %q", got)
	}
	for _, evil := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "evil"} {
		if got := localPath(evil); got != "" {
			t.Errorf("next %q taken as %q", evil, got)
		}
	}
}
