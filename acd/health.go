package acd

import (
	"context"
	"net/http"
	"time"
)

// Health mounts /healthz (the process answers) and /readyz (it takes calls:
// not draining and the store answers) on mux. A load balancer or Kamailio
// dispatcher stops sending calls when /readyz fails; why (draining, the
// store's error) only those private admits are told.
func Health(mux *http.ServeMux, e *Engine, ping func(context.Context) error, private Private) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		notReady := func(why string) {
			if !private.Allowed(r) {
				why = "not ready"
			}
			http.Error(w, why, http.StatusServiceUnavailable)
		}
		if e.Draining() {
			notReady("draining")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := ping(ctx); err != nil {
			notReady("store: " + err.Error())
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}
