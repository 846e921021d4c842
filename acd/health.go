package acd

import (
	"context"
	"net/http"
	"time"
)

// Health mounts /healthz (the process answers) and /readyz (it takes calls:
// not draining and the store answers) on mux. A load balancer or Kamailio
// dispatcher stops sending calls when /readyz fails.
func Health(mux *http.ServeMux, e *Engine, ping func(context.Context) error) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if e.Draining() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := ping(ctx); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}
