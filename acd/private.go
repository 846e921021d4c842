package acd

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Private guards operational detail — /metrics with its per-municipality
// counts, /readyz's reasons — on a listener anyone may reach (issue 12, 8):
// with a Token, a request needs "Authorization: Bearer <token>"; Open
// marks a listener that is private by its address (http.metrics_listen),
// where no token is asked.
type Private struct {
	Token string
	Open  bool
}

// Allowed reports whether r may see the detail.
func (p Private) Allowed(r *http.Request) bool {
	if p.Open {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return p.Token != "" && ok && subtle.ConstantTimeCompare([]byte(tok), []byte(p.Token)) == 1
}

// Wrap answers 401 to requests that are not Allowed.
func (p Private) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.Allowed(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sc115"`)
			http.Error(w, "missing or wrong bearer token (http.metrics_token)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
