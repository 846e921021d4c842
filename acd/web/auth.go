package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/acd"
)

// SessionStore keeps sessions where every instance finds them (package
// queue's Store: Redis or the embedded store).
type SessionStore interface {
	PutSession(ctx context.Context, id string, data []byte, ttl time.Duration) error
	GetSession(ctx context.Context, id string) ([]byte, error)
	DropSession(ctx context.Context, id string) error
}

// Cookie and header names.
const (
	sessionCookie = "sc115_session"
	csrfHeader    = "X-CSRF-Token"
	csrfField     = "csrf"
)

// Auth knows the users, signs them in and out, and guards routes.
type Auth struct {
	cfg    Config
	users  map[string]*User
	tokens map[string]*User // by token hash "sha256:…"
	// legacy is acd.api_token, the deprecated shared token: it may still
	// do everything, and says so in the log once.
	legacy     string
	legacyOnce sync.Once
	store      SessionStore
	secure     bool // the cookie is Secure (sc115 serves HTTPS)
	lock       *lockout
	log        zerolog.Logger
	now        func() time.Time
}

// New builds the guard from a validated section. legacyToken is
// acd.api_token ("" for none); secure says the pages are served over TLS.
func New(cfg Config, legacyToken string, store SessionStore, secure bool, log zerolog.Logger) *Auth {
	a := &Auth{cfg: cfg, users: map[string]*User{}, tokens: map[string]*User{}, legacy: legacyToken, store: store,
		secure: secure, log: log, now: time.Now}
	for i := range cfg.Users {
		u := &cfg.Users[i]
		a.users[u.Name] = u
		if u.TokenHash != "" {
			a.tokens[u.TokenHash] = u
		}
	}
	a.lock = newLockout(cfg.LoginAttempts, cfg.LoginLockout, a.now)
	return a
}

// session is what the store keeps for a signed-in user.
type session struct {
	User    string    `json:"user"`
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
}

// principal is who a request comes from.
type principal struct {
	user    *User
	name    string   // "" for the legacy token
	session *session // nil for a bearer token
}

func (p *principal) has(role string) bool { return p.user == nil || p.user.has(role) } // legacy: everything

// randomToken returns n random bytes, base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux (Go ≥ 1.24 panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is what web.users[].token_hash holds for token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// NewToken returns a fresh API token (32 random bytes).
func NewToken() string { return randomToken(32) }

// who finds the request's principal: a bearer token (a user's, or the
// legacy shared one), else a session cookie. nil: nobody.
func (a *Auth) who(r *http.Request) *principal {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if u := a.tokens[HashToken(tok)]; u != nil {
			return &principal{user: u, name: u.Name}
		}
		if a.legacy != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(a.legacy)) == 1 {
			a.legacyOnce.Do(func() {
				a.log.Warn().Msg("API used with the shared acd.api_token: deprecated, give each program a user with web.users[].token_hash")
			})
			return &principal{}
		}
		return nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil
	}
	data, err := a.store.GetSession(r.Context(), c.Value)
	if err != nil {
		a.log.Error().Err(err).Msg("store: read session")
		return nil
	}
	var s session
	if data == nil || json.Unmarshal(data, &s) != nil || !a.now().Before(s.Expires) {
		return nil
	}
	u := a.users[s.User]
	if u == nil || u.PasswordHash == "" {
		return nil // removed from the config (or its password) since
	}
	return &principal{user: u, name: u.Name, session: &s}
}

// stateChanging says whether a request changes something (CSRF applies).
func stateChanging(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// csrfOK checks a session request's CSRF token (header or form field).
func csrfOK(r *http.Request, s *session) bool {
	tok := r.Header.Get(csrfHeader)
	if tok == "" {
		tok = r.PostFormValue(csrfField)
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRF)) == 1
}

// Authorize implements acd.Guard.
func (a *Auth) Authorize(w http.ResponseWriter, r *http.Request, rule acd.Rule) (acd.Caller, bool) {
	p, ok := a.check(w, r, rule.Roles)
	if !ok {
		return acd.Caller{}, false
	}
	if rule.Agent != "" && p.user != nil && !p.user.has(acd.RoleSupervisor) && p.user.Agent != rule.Agent {
		jsonError(w, http.StatusForbidden, "an agent acts on its own agent only")
		return acd.Caller{}, false
	}
	who := acd.Caller{User: p.name}
	if p.user != nil {
		who.Agent = p.user.Agent
	}
	return who, true
}

// check answers 401/403 itself unless the request comes from someone with
// one of roles (and, for a session's state change, its CSRF token).
func (a *Auth) check(w http.ResponseWriter, r *http.Request, roles []string) (*principal, bool) {
	p := a.who(r)
	if p == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sc115"`)
		jsonError(w, http.StatusUnauthorized, "sign in, or send Authorization: Bearer <token>")
		return nil, false
	}
	if p.session != nil && stateChanging(r) && !csrfOK(r, p.session) {
		a.log.Warn().Str("user", p.name).Str("path", r.URL.Path).Msg("state change without the session's CSRF token: 403")
		jsonError(w, http.StatusForbidden, "missing or wrong CSRF token")
		return nil, false
	}
	allowed := len(roles) == 0
	for _, role := range roles {
		allowed = allowed || p.has(role)
	}
	if !allowed {
		jsonError(w, http.StatusForbidden, "needs role "+strings.Join(roles, " or "))
		return nil, false
	}
	return p, true
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

var _ acd.Guard = (*Auth)(nil)
