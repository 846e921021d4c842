package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/acd/web"
	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/cdr/billing"
	"github.com/sc115/sc115/internal/cfgerr"
	"github.com/sc115/sc115/queue"
	"github.com/sc115/sc115/sip"
	"github.com/sc115/sc115/sip/media"
)

// Config is the whole YAML file: each package owns its section's type.
type Config struct {
	Instance string       `yaml:"instance"`
	HTTP     HTTPConfig   `yaml:"http"`
	Log      LogConfig    `yaml:"log"`
	SIP      sip.Config   `yaml:"sip"`
	Media    media.Config `yaml:"media"`
	Queue    queue.Config `yaml:"queue"`
	ACD      acd.Config   `yaml:"acd"`
	CDR      cdr.Config   `yaml:"cdr"`
	// Billing is the billing office's section (tariffs, sender, recipients).
	Billing billing.BillingConfig `yaml:"billing"`
	// Web is who may sign in to the pages and the API (users, roles).
	Web web.Config `yaml:"web"`
}

// HTTPConfig is where the API, /metrics, /healthz and /readyz listen.
type HTTPConfig struct {
	Listen string `yaml:"listen"`
	// MetricsListen, if set, serves /metrics (and /readyz with its
	// reasons) on an address of its own, for the monitoring network only;
	// /metrics is then not on Listen at all.
	MetricsListen string `yaml:"metrics_listen"`
	// MetricsToken, if set, is the bearer token /metrics and /readyz's
	// reasons need on Listen.
	MetricsToken string `yaml:"metrics_token"`
	// CertFile and KeyFile, if set, make Listen (and MetricsListen) HTTPS,
	// TLS 1.2 or newer.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// LogConfig selects the log format (json or console) and level.
type LogConfig struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

func defaults() Config {
	return Config{Instance: "sc115", HTTP: HTTPConfig{Listen: "127.0.0.1:8115"}, Log: LogConfig{Format: "json", Level: "info"},
		SIP: sip.Defaults(), Media: media.Defaults(), ACD: acd.Defaults(), CDR: cdr.Defaults(), Web: web.Defaults()}
}

// loadedConfig keeps the parsed tree to point errors at file:line.
type loadedConfig struct {
	Config
	path string
	root *yaml.Node
}

// loadConfig reads and decodes path; unknown keys are errors with line.
func loadConfig(path string) (*loadedConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lc := &loadedConfig{Config: defaults(), path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&lc.Config); err != nil {
		return nil, decodeError(path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil && len(doc.Content) > 0 {
		lc.root = doc.Content[0]
	}
	return lc, nil
}

// validate runs every section's Validate and the cross-section checks;
// each error is returned as "file:line: field: message".
func (lc *loadedConfig) validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if lc.Instance == "" || strings.ContainsAny(lc.Instance, " /\\:{}") {
		add(cfgerr.New("instance", "%q must be a non-empty name without spaces, slashes, colons or braces", lc.Instance))
	}
	if _, err := netip.ParseAddrPort(lc.HTTP.Listen); err != nil {
		add(cfgerr.New("http.listen", "want IP:port, got %q", lc.HTTP.Listen))
	}
	if (lc.HTTP.CertFile == "") != (lc.HTTP.KeyFile == "") {
		add(cfgerr.New("http.cert_file", "cert_file and key_file go together"))
	}
	if lc.HTTP.MetricsListen != "" {
		if _, err := netip.ParseAddrPort(lc.HTTP.MetricsListen); err != nil {
			add(cfgerr.New("http.metrics_listen", "want IP:port, got %q", lc.HTTP.MetricsListen))
		}
	}
	if lc.Log.Format != "json" && lc.Log.Format != "console" {
		add(cfgerr.New("log.format", "%q is not json or console", lc.Log.Format))
	}
	add(lc.SIP.Validate())
	for i, a := range lc.ACD.Agents {
		if a.RequireTLS && lc.SIP.TLS.Listen == "" {
			add(cfgerr.New(fmt.Sprintf("acd.agents[%d].require_tls", i), "needs sip.tls.listen"))
		}
	}
	if lc.ACD.Callback.Enabled || lc.ACD.Tickets.Queue != "" {
		out := false
		for _, tr := range lc.SIP.Trunks {
			out = out || tr.Outbound != ""
		}
		field := "acd.callback.enabled"
		if !lc.ACD.Callback.Enabled {
			field = "acd.tickets.queue"
		}
		if !out {
			add(cfgerr.New(field, "callbacks dial the citizen through a trunk: give a sip.trunks entry an outbound URI"))
		}
	}
	add(lc.Media.Validate())
	add(lc.Queue.Validate())
	add(lc.ACD.Validate())
	add(lc.CDR.Validate())
	keys := map[string]bool{}
	for _, m := range lc.ACD.Municipalities {
		keys[m.Key] = true
	}
	add(lc.Billing.Validate(keys))
	agents := map[string]bool{}
	for _, a := range lc.ACD.Agents {
		agents[a.ID] = true
	}
	for _, err := range lc.Web.Validate(agents) {
		add(err)
	}
	return lc.locate(errors.Join(errs...))
}

// validateForServe is validate plus what serving needs beyond the file:
// every prompt it plays (billing and estimates run without prompts).
func (lc *loadedConfig) validateForServe() error {
	if err := lc.validate(); err != nil {
		return err
	}
	return lc.locate(checkPrompts(&lc.Config, promptFileExists(lc.Media.PromptsDir)))
}

// locate rewrites every FieldError in err as file:line: field: message.
func (lc *loadedConfig) locate(err error) error {
	if err == nil {
		return nil
	}
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *cfgerr.FieldError
		if errors.As(e, &fe) {
			out = append(out, fmt.Sprintf("%s:%d: %s", lc.path, lc.line(fe.Field), fe.Error()))
			return
		}
		out = append(out, fmt.Sprintf("%s: %s", lc.path, e.Error()))
	}
	walk(err)
	return errors.New(strings.Join(out, "\n"))
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// decodeError turns yaml's "line N: msg" errors into "file:N: msg" lines.
func decodeError(path string, err error) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var out []string
	for _, m := range msgs {
		m = strings.TrimSpace(m)
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			out = append(out, fmt.Sprintf("%s:%s: %s", path, g[1], g[2]))
		} else {
			out = append(out, fmt.Sprintf("%s: %s", path, m))
		}
	}
	return errors.New(strings.Join(out, "\n"))
}

var pathToken = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)

// line finds the YAML line of a field path like "acd.agents[2].skills.x",
// falling back to the deepest part that exists (a missing field's parent).
func (lc *loadedConfig) line(field string) int {
	n := lc.root
	if n == nil {
		return 1
	}
	line := n.Line
	for _, tok := range pathToken.FindAllString(field, -1) {
		var next *yaml.Node
		if strings.HasPrefix(tok, "[") {
			i, _ := strconv.Atoi(strings.Trim(tok, "[]"))
			if n.Kind == yaml.SequenceNode && i < len(n.Content) {
				next = n.Content[i]
			}
		} else if n.Kind == yaml.MappingNode {
			for k := 0; k+1 < len(n.Content); k += 2 {
				if n.Content[k].Value == tok {
					line = n.Content[k].Line
					next = n.Content[k+1]
					break
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
		line = max(line, n.Line)
	}
	return line
}

// warnings are not errors but deserve a word: demo credentials reachable
// from beyond this machine.
func (lc *loadedConfig) warnings() []string {
	var w []string
	if hp, err := netip.ParseAddrPort(lc.HTTP.Listen); err == nil && !hp.Addr().IsLoopback() && lc.HTTP.MetricsToken == "" && lc.HTTP.MetricsListen == "" {
		w = append(w, fmt.Sprintf("%s:%d: http.listen %s is not loopback and neither http.metrics_token nor http.metrics_listen is set: anyone who can reach it reads /metrics (calls per municipality) and why /readyz fails",
			lc.path, lc.line("http.listen"), lc.HTTP.Listen))
	}
	ap, err := netip.ParseAddrPort(lc.SIP.Listen)
	if err != nil || ap.Addr().IsLoopback() {
		return w
	}
	for i, a := range lc.ACD.Agents {
		if a.Password != "" && a.Password == "demo"+a.ID {
			field := fmt.Sprintf("acd.agents[%d].password", i)
			w = append(w, fmt.Sprintf("%s:%d: %s: demo password with non-loopback sip.listen %s: anyone who can reach it can log in as agent %s",
				lc.path, lc.line(field), field, lc.SIP.Listen, a.ID))
		}
	}
	return w
}

func checkConfigCmd(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: sc115 check-config FILE")
		return 2
	}
	lc, err := loadConfig(args[0])
	if err == nil {
		err = lc.validateForServe()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, w := range lc.warnings() {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	fmt.Printf("%s: ok (%d municipalities, %d agents)\n", args[0], len(lc.ACD.Municipalities), len(lc.ACD.Agents))
	return 0
}
