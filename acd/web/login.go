package web

import (
	"embed"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sc115/sc115/acd"
)

//go:embed pages
var pages embed.FS

var templates = template.Must(template.ParseFS(pages, "pages/*.html"))

// HashCost is the bcrypt cost `sc115 hash-password` uses: about a quarter
// second per try on this kind of machine, which is what slows a guesser.
const HashCost = 12

// HashPassword returns the bcrypt hash web.users[].password_hash takes.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), HashCost)
	return string(h), err
}

var (
	dummyOnce sync.Once
	dummyHash []byte
)

// dummy is a hash to compare against for unknown users, so that a wrong
// user name takes as long as a wrong password.
func dummy() []byte {
	dummyOnce.Do(func() { dummyHash, _ = bcrypt.GenerateFromPassword([]byte("sc115-no-such-user"), HashCost) })
	return dummyHash
}

// Mount serves the sign-in page, signing in and out, and /api/me.
func (a *Auth) Mount(mux acd.Mux) {
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		a.loginPage(w, "", localPath(r.URL.Query().Get("next")), http.StatusOK)
	})
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.check(w, r, nil)
		if !ok {
			return
		}
		me := map[string]any{"user": p.name}
		if p.user != nil {
			me["roles"], me["agent"] = p.user.Roles, p.user.Agent
		}
		if p.session != nil {
			me["csrf"] = p.session.CSRF // the pages send it back on every change
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(me)
	})
}

// Protect adds the browser-side CSRF defence of net/http to h: state
// changes from another origin (Sec-Fetch-Site, Origin) are refused before
// any session is looked at. The per-session token (check) is the second
// line, for browsers that send neither header.
func Protect(h http.Handler) http.Handler { return http.NewCrossOriginProtection().Handler(h) }

func (a *Auth) loginPage(w http.ResponseWriter, failed, next string, code int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = templates.ExecuteTemplate(w, "login.html", map[string]string{"Failed": failed, "Next": next})
}

// localPath is next if it is a path on this site ("/agent"), else "":
// a sign-in link must not send the browser elsewhere afterwards.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") || len(next) > 200 {
		return ""
	}
	return next
}

// clientAddr is the request's source address (a proxy's X-Forwarded-For
// is not trusted: anyone could send one).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// login checks the user's password (bcrypt) and starts a session.
func (a *Auth) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	name, password := r.PostFormValue("user"), r.PostFormValue("password")
	addr := clientAddr(r)
	log := a.log.With().Str("user", name).Str("src", addr).Logger()
	u := a.users[name]
	hash := dummy()
	if u != nil && u.PasswordHash != "" {
		hash = []byte(u.PasswordHash)
	}
	locked := a.lock.locked(addr, name)
	wrong := bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || u == nil || u.PasswordHash == ""
	if locked || wrong {
		if !locked && a.lock.fail(addr, name) {
			log.Warn().Dur("lockout", a.cfg.LoginLockout).Msg("sign-in: too many wrong passwords from this address: locked out there")
		} else {
			log.Info().Bool("locked", locked).Msg("sign-in refused")
		}
		// One answer for all: wrong user, wrong password, locked out.
		a.loginPage(w, "Anmeldung fehlgeschlagen. Bitte prüfen Sie Benutzername und Passwort.", localPath(r.PostFormValue("next")), http.StatusUnauthorized)
		return
	}
	a.lock.succeed(addr, name)
	id, s := randomToken(32), session{User: u.Name, CSRF: randomToken(24), Expires: a.now().Add(a.cfg.SessionTTL)}
	data, _ := json.Marshal(s)
	if err := a.store.PutSession(r.Context(), id, data, a.cfg.SessionTTL); err != nil {
		log.Error().Err(err).Msg("store: save session")
		a.loginPage(w, "Anmeldung zurzeit nicht möglich (Speicher nicht erreichbar).", localPath(r.PostFormValue("next")), http.StatusServiceUnavailable)
		return
	}
	log.Info().Msg("signed in")
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(a.cfg.SessionTTL / time.Second)})
	to := localPath(r.PostFormValue("next"))
	if to == "" {
		to = u.startPage()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// logout ends the session everywhere (CSRF-checked: a foreign page must
// not sign the user out either).
func (a *Auth) logout(w http.ResponseWriter, r *http.Request) {
	p, ok := a.check(w, r, nil)
	if !ok {
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil && p.session != nil {
		if err := a.store.DropSession(r.Context(), c.Value); err != nil {
			a.log.Error().Err(err).Msg("store: drop session")
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	a.log.Info().Str("user", p.name).Msg("signed out")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// Page guards a page: without a session it sends the browser to the
// sign-in page; without one of roles it answers 403.
func (a *Auth) Page(roles []string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.who(r) == nil {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
			return
		}
		if _, ok := a.check(w, r, roles); ok {
			h(w, r)
		}
	}
}

//go:embed openapi.json
var openAPI []byte

// OpenAPI serves the API's OpenAPI 3 document at /api/openapi.json (to
// anyone: it describes routes, it holds no data).
func OpenAPI(mux acd.Mux) {
	mux.HandleFunc("GET /api/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
}
