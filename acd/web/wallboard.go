package web

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/acd"
)

// BoardSource is where the wallboard's picture comes from (acd.Engine:
// the shared store).
type BoardSource interface {
	Board(ctx context.Context) acd.Board
}

// Wallboard serves the wallboard page and its live updates (Server-Sent
// Events). One producer per instance reads the store once per tick while
// anybody watches and hands the same encoded picture to every viewer: 50
// wallboards cost what one does, and none reads the store itself.
type Wallboard struct {
	src   BoardSource
	every time.Duration
	log   zerolog.Logger

	mu      sync.Mutex
	viewers map[chan []byte]struct{}
	last    []byte        // the picture (JSON)
	wake    chan struct{} // a first viewer wakes the producer
}

// NewWallboard builds the wallboard over src, updated every every.
func NewWallboard(src BoardSource, every time.Duration, log zerolog.Logger) *Wallboard {
	return &Wallboard{src: src, every: every, log: log, viewers: map[chan []byte]struct{}{}, wake: make(chan struct{}, 1)}
}

// Run produces pictures until ctx ends (idle while nobody watches).
func (w *Wallboard) Run(ctx context.Context) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		w.mu.Lock()
		watched := len(w.viewers) > 0
		w.mu.Unlock()
		if watched {
			w.produce(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// produce reads one picture and sends it to every viewer; a viewer too
// slow to take it skips this one (the next supersedes it anyway).
func (w *Wallboard) produce(ctx context.Context) []byte {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	b := w.src.Board(rctx)
	cancel()
	data, err := json.Marshal(b)
	if err != nil {
		w.log.Error().Err(err).Msg("wallboard: encode")
		return nil
	}
	// The event is framed once for all viewers: no copy per viewer.
	frame := make([]byte, 0, len(data)+len(eventPrefix)+2)
	frame = append(append(append(frame, eventPrefix...), data...), '\n', '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = data
	for ch := range w.viewers {
		select {
		case ch <- frame:
		default:
		}
	}
	return data
}

func (w *Wallboard) subscribe() chan []byte {
	ch := make(chan []byte, 1)
	w.mu.Lock()
	w.viewers[ch] = struct{}{}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return ch
}

func (w *Wallboard) unsubscribe(ch chan []byte) {
	w.mu.Lock()
	delete(w.viewers, ch)
	w.mu.Unlock()
}

// eventPrefix starts each picture on the live stream (one SSE event).
const eventPrefix = "event: board\ndata: "

// wallboardRoles may watch the wallboard: everyone with a role.
var wallboardRoles = []string{acd.RoleAgent, acd.RoleSupervisor, acd.RoleBilling}

// Mount serves the page at /, the picture at /api/wallboard and the live
// stream at /api/wallboard/events, for signed-in users (or tokens).
func (w *Wallboard) Mount(mux acd.Mux, a *Auth) {
	mux.HandleFunc("GET /{$}", a.Page(wallboardRoles, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Header().Set("Cache-Control", "no-store")
		_ = templates.ExecuteTemplate(rw, "wallboard.html", map[string]bool{"Supervisor": false})
	}))
	// The supervisor view is the wallboard with actions and the audit log
	// (the actions go through the API, which checks the role again).
	mux.HandleFunc("GET /supervisor", a.Page([]string{acd.RoleSupervisor}, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Header().Set("Cache-Control", "no-store")
		_ = templates.ExecuteTemplate(rw, "wallboard.html", map[string]bool{"Supervisor": true})
	}))
	mux.HandleFunc("GET /api/wallboard", func(rw http.ResponseWriter, r *http.Request) {
		if _, ok := a.check(rw, r, wallboardRoles); !ok {
			return
		}
		w.mu.Lock()
		data := w.last
		w.mu.Unlock()
		if data == nil {
			data = w.produce(r.Context())
		}
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write(data)
	})
	mux.HandleFunc("GET /api/wallboard/events", func(rw http.ResponseWriter, r *http.Request) {
		if _, ok := a.check(rw, r, wallboardRoles); !ok {
			return
		}
		rc := http.NewResponseController(rw)
		rw.Header().Set("Content-Type", "text/event-stream")
		rw.Header().Set("Cache-Control", "no-store")
		rw.Header().Set("X-Accel-Buffering", "no") // a proxy in front must not hold the stream back
		ch := w.subscribe()
		defer w.unsubscribe(ch)
		_, _ = rw.Write([]byte("retry: 2000\n\n"))
		if err := rc.Flush(); err != nil {
			return
		}
		for {
			select {
			case <-r.Context().Done():
				return
			case frame := <-ch:
				if _, err := rw.Write(frame); err != nil {
					return
				}
				if err := rc.Flush(); err != nil {
					return
				}
			}
		}
	})
}
