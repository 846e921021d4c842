package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/acd/web"
	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
	"github.com/sc115/sc115/sip"
	"github.com/sc115/sc115/sip/media"
)

// service is one running sc115: every package built and wired.
type service struct {
	cfg    Config
	log    zerolog.Logger
	store  *queue.Store
	media  *media.Engine
	cdrs   *cdr.Writer
	engine *acd.Engine
	sip    *sip.Server
	http   *http.Server
	httpLn net.Listener
	// metrics and metricsLn serve http.metrics_listen (nil without it).
	metrics   *http.Server
	metricsLn net.Listener
	cancel    context.CancelFunc
	sipDone   chan error
	// engineDone is closed when the engine's lease/dispatch loop has ended.
	engineDone chan struct{}
}

func newLogger(c LogConfig, w io.Writer) zerolog.Logger {
	if c.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil || c.Level == "" {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// start builds and starts every part; on error it undoes what it started.
func start(cfg Config, log zerolog.Logger) (_ *service, err error) {
	creds := credentials(cfg.ACD.Agents, cfg.SIP.Realm)
	cfg.ACD.Agents = withoutPasswords(cfg.ACD.Agents)
	s := &service{cfg: cfg, log: log, sipDone: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	// sipgo logs through log/slog: route it into zerolog, warnings and up,
	// without raw SIP messages and at most once a second per message.
	slog.SetDefault(slog.New(sip.SipgoLog(zerolog.NewSlogHandler(log.Level(max(log.GetLevel(), zerolog.WarnLevel)).With().Str("component", "sipgo").Logger()))))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	ctx := context.Background()
	if s.store, err = queue.Open(ctx, cfg.Queue); err != nil {
		return nil, err
	}
	sipIP, _, _ := net.SplitHostPort(cfg.SIP.Listen)
	if s.media, err = media.NewEngine(cfg.Media, sipIP, reg, log.With().Str("component", "media").Logger()); err != nil {
		return nil, err
	}
	if err := checkPrompts(&cfg, func(f string) bool { return s.media.Prompt(f) != nil }); err != nil {
		return nil, err
	}
	if s.cdrs, err = cdr.NewWriter(cfg.CDR.Dir, cfg.Instance, reg, log.With().Str("component", "cdr").Logger()); err != nil {
		return nil, err
	}
	s.cdrs.SpoolDir = cfg.CDR.SpoolDir
	dialer := &agentDialer{}
	s.engine = acd.NewEngine(cfg.ACD, acd.Deps{
		Instance: cfg.Instance, Store: s.store, Dialer: dialer, CDRs: s.cdrs, Privacy: cdr.NewPrivacy(cfg.CDR), ShortAbandon: cfg.CDR.ShortAbandon,
		Log: log, Registry: reg,
		Greeting: func(m *acd.Municipality) string {
			if m.Greeting != "" {
				return m.Greeting
			}
			return cfg.Media.DefaultGreeting
		},
		HoldTrack: func(m *acd.Municipality) string {
			if m.HoldTrack != "" {
				return m.HoldTrack
			}
			return cfg.Media.HoldTrack
		},
	})
	// Registrations and digest nonce counts are shared through a real
	// Redis: another instance reaches an agent registered here, and a
	// response captured on its way to one instance fails at another. The
	// embedded store has one instance by nature (it lives and dies with
	// this process): the registrar's own memory holds both, as Kamailio's
	// usrloc does with db_mode 0, without a store round trip and a Lua
	// script for every REGISTER.
	var bindings sip.BindingStore
	var nonces sip.NonceStore
	if !s.store.Embedded() {
		bindings, nonces = s.store, s.store
	}
	s.sip, err = sip.NewServer(cfg.SIP, sip.Options{
		Credentials: creds, Presence: s.engine, Media: s.media,
		Inbound: func(c *sip.InboundCall) { s.engine.HandleCall(c) }, Features: s.engine.Feature, Refusing: s.engine.Refusing,
		Consult:  func(agentID, target string, c *sip.InboundCall) { s.engine.Consult(agentID, target, c) },
		Bindings: bindings, Nonces: nonces, Instance: cfg.Instance, Registry: reg,
		Log: log.With().Str("component", "sip").Logger(),
	})
	if err != nil {
		return nil, err
	}
	dialer.srv = s.sip

	if s.httpLn, err = listenHTTP(cfg.HTTP, cfg.HTTP.Listen); err != nil {
		return nil, err
	}
	metricsHandler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	private := acd.Private{Token: cfg.HTTP.MetricsToken, Open: cfg.HTTP.MetricsToken == "" && cfg.HTTP.MetricsListen == ""}
	mux := http.NewServeMux()
	if cfg.HTTP.MetricsListen == "" {
		mux.Handle("/metrics", private.Wrap(metricsHandler))
	}
	acd.Health(mux, s.engine, s.store.Ping, private)
	auth := web.New(cfg.Web, cfg.ACD.APIToken, s.store, cfg.HTTP.CertFile != "", log.With().Str("component", "web").Logger())
	auth.Mount(mux)
	acd.API(mux, s.engine, auth)
	wallboard := web.NewWallboard(s.engine, time.Second, log.With().Str("component", "wallboard").Logger())
	wallboard.Mount(mux, auth)
	web.Console(mux, auth)
	web.Billing(mux, auth, newAccounts(cfg))
	web.OpenAPI(mux)
	s.http = &http.Server{Handler: web.Protect(mux), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.http.Serve(s.httpLn) }()
	if cfg.HTTP.MetricsListen != "" {
		if s.metricsLn, err = listenHTTP(cfg.HTTP, cfg.HTTP.MetricsListen); err != nil {
			return nil, err
		}
		mmux := http.NewServeMux()
		mmux.Handle("/metrics", metricsHandler)
		acd.Health(mmux, s.engine, s.store.Ping, acd.Private{Open: true})
		s.metrics = &http.Server{Handler: mmux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = s.metrics.Serve(s.metricsLn) }()
	}

	sipCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.engineDone = make(chan struct{})
	s.engine.Prepare(sipCtx)
	go func() { s.engine.Run(sipCtx); close(s.engineDone) }()
	go wallboard.Run(sipCtx)
	go func() { s.sipDone <- s.sip.Serve(sipCtx) }()
	if !s.sip.WaitServing() {
		return nil, fmt.Errorf("sip server on %s did not start", s.sip.Addr())
	}
	return s, nil
}

// listenHTTP listens on addr, with TLS when http.cert_file is set.
func listenHTTP(c HTTPConfig, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http listen %s: %w", addr, err)
	}
	if c.CertFile == "" {
		return l, nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("http.cert_file: %w", err)
	}
	return tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

// banner says where everything listens.
func (s *service) banner() string {
	store := "embedded (in-process Redis protocol at " + s.store.Addr() + ")"
	if !s.store.Embedded() {
		store = "redis " + s.store.Addr()
	}
	scheme := "http"
	if s.cfg.HTTP.CertFile != "" {
		scheme = "https"
	}
	metrics := "(wallboard /, sign in /login; /metrics /healthz /readyz)"
	if s.metricsLn != nil {
		metrics = "(wallboard /, sign in /login; /healthz /readyz; /metrics on " + scheme + "://" + s.metricsLn.Addr().String() + ")"
	} else if s.cfg.HTTP.MetricsToken != "" {
		metrics = "(wallboard /, sign in /login; /metrics with http.metrics_token, /healthz /readyz)"
	}
	sipTLS := ""
	if s.cfg.SIP.TLS.Listen != "" {
		sipTLS = "\n  SIP   tls     " + s.sip.TLSAddr().String()
	}
	return fmt.Sprintf("sc115 %s instance %q\n  SIP   udp+tcp %s%s\n  HTTP  %s://%s  %s\n  RTP   udp %s ports %s\n  store %s\n  CDRs  %s\n",
		version, s.cfg.Instance, s.sip.Addr(), sipTLS, scheme, s.httpLn.Addr(), metrics, s.sip.Addr().Addr(), s.cfg.Media.RTPPorts, store, s.cfg.CDR.Dir)
}

// shutdown drains calls (SIGTERM) or cuts them at once (cut), then stops.
func (s *service) shutdown(cut bool) {
	ctx, cancel := context.WithCancel(context.Background())
	if cut {
		cancel()
	}
	s.engine.Drain(ctx)
	cancel()
	s.close()
}

func (s *service) close() {
	if s.cancel != nil {
		s.cancel()
		<-s.sipDone
		<-s.engineDone
		s.engine.Close()
	}
	if s.http != nil {
		_ = s.http.Close()
	}
	if s.metrics != nil {
		_ = s.metrics.Close()
	}
	if s.media != nil {
		s.media.Close()
	}
	if s.cdrs != nil {
		if err := s.cdrs.Close(); err != nil {
			s.log.Error().Err(err).Msg("cdr close")
		}
	}
	if s.store != nil {
		s.store.Close()
	}
}

func serveCmd(args []string) int {
	f, err := parseServeFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "sc115 serve:", err)
		return 2
	}
	lc, err := loadConfig(f.config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f.apply(&lc.Config)
	if err := lc.validateForServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, w := range lc.warnings() {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	log := newLogger(lc.Log, os.Stderr)
	s, err := start(lc.Config, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sc115 serve:", err)
		return 1
	}
	fmt.Print(s.banner())
	widthCtx, stopWidth := context.WithCancel(context.Background())
	defer stopWidth()
	if w := newProcsWidth(log); w != nil {
		go w.run(widthCtx)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case sig := <-sigs:
		cut := sig == syscall.SIGINT
		log.Info().Str("signal", sig.String()).Bool("cut_calls", cut).Msg("shutting down")
		go func() { <-sigs; log.Warn().Msg("second signal: exiting now"); os.Exit(1) }()
		stopWidth() // all Ps for ending the calls
		s.shutdown(cut)
	case err := <-s.sipDone:
		s.sipDone <- err
		log.Error().Err(err).Msg("sip server stopped")
		s.close()
		return 1
	}
	log.Info().Msg("stopped")
	return 0
}
