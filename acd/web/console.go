package web

import (
	"net/http"

	"github.com/sc115/sc115/acd"
)

// Console serves the agent console at /agent (agent-role users; the
// page works on the user's own agent through the API: its state, its
// current call from the store, the wrap-up outcome).
func Console(mux acd.Mux, a *Auth) {
	mux.HandleFunc("GET /agent", a.Page([]string{acd.RoleAgent}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = templates.ExecuteTemplate(w, "agent.html", nil)
	}))
}
