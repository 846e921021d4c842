package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func writeConfig(t testing.TB, edit func(string) string) string {
	t.Helper()
	data, err := os.ReadFile("../../deploy/examples/region-hannover.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The prompts are the repository's, wherever the copy is written.
	prompts, err := filepath.Abs("../../prompts/de")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "prompts_dir: prompts/de", "prompts_dir: "+prompts, 1)
	p := filepath.Join(t.TempDir(), "sc115.yaml")
	if err := os.WriteFile(p, []byte(edit(text)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckConfigExample: the shipped example config passes check-config
// from the repository's top folder (where make run starts it).
func TestCheckConfigExample(t *testing.T) {
	t.Chdir("../..")
	if code := run([]string{"check-config", "deploy/examples/region-hannover.yaml"}); code != 0 {
		t.Fatalf("example config: exit %d", code)
	}
}

// TestConfigErrorsNameFileLineField: every error a user sees points at
// the file, the line and the field.
func TestConfigErrorsNameFileLineField(t *testing.T) {
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown key", "  realm: sc115\n", "  realm: sc115\n  relam: typo\n", "field relam not found in type sip.Config"},
		{"bad number", `numbers: ["+495136115"]`, `numbers: ["05136-abc"]`, `acd.municipalities[1].numbers[0]: "05136-abc" is not a phone number`},
		{"bad cidr", "allow: [127.0.0.0/8]", "allow: [127.0.0.300/8]", `sip.trunks[0].allow[0]: "127.0.0.300/8" is not a CIDR`},
		{"bad policy", "caller_policy: shorten", "caller_policy: sometimes", `cdr.caller_policy: "sometimes" is not one of shorten, hash, full`},
		{"bad skill", "skills: {hannover: 8, burgdorf: 5}", "skills: {hannover: 8, burgdorf: 15}", "acd.agents[0].skills.burgdorf: level 15 is outside 1–10"},
		{"bad ports", "rtp_ports: 20000-29999", "rtp_ports: 29999-20000", "media.rtp_ports:"},
		{"bad strategy", "strategy: best-skill", "strategy: random", `acd.queues.hannover.strategy: "random" is not one of`},
		{"missing crisis greeting", "greeting: crisis-greeting.wav", "greeting: crisis-gretting.wav", `acd.municipalities[0].crisis.greeting: prompt "crisis-gretting.wav" not found in`},
		{"missing closed prompt", "greeting: greeting-burgdorf.wav\n", "greeting: greeting-burgdorf.wav\n      closed_prompt: geschlossen.wav\n", `acd.municipalities[1].closed_prompt: prompt "geschlossen.wav" not found in`},
		{"missing municipal hold track", "      # hold_track: hold-burgdorf.wav", "      hold_track: hold-burgdorf.wav", `acd.municipalities[1].hold_track: prompt "hold-burgdorf.wav" not found in`},
		{"bad latching", "latching: signalled-ip", "latching: loose", `media.latching: "loose" is not one of signalled-ip, strict, any`},
		{"bad kernel forwarding", "kernel_forwarding: auto", "kernel_forwarding: yes", `media.kernel_forwarding: "yes" is not one of auto, on, off`},
		{"bad clock priority", "clock_priority: off", "clock_priority: high", `media.clock_priority: "high" is not one of auto, on, off`},
		{"bad send batching", "send_batching: auto", "send_batching: sendmmsg", `media.send_batching: "sendmmsg" is not one of auto, on, off`},
		{"zero federation ring timeout", "federation_ring_timeout: 15s", "federation_ring_timeout: 0s", "acd.federation_ring_timeout: must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeConfig(t, func(s string) string {
				if !strings.Contains(s, c.from) {
					t.Fatalf("example lacks %q", c.from)
				}
				return strings.Replace(s, c.from, c.to, 1)
			})
			lc, err := loadConfig(p)
			if err == nil {
				err = lc.validateForServe()
			}
			want := fmt.Sprintf("%s:%d: %s", p, lineOf(t, p, strings.Split(strings.TrimSpace(c.to), "\n")[len(strings.Split(strings.TrimSpace(c.to), "\n"))-1]), c.want)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("got %v\nwant it to contain %q", err, want)
			}
		})
	}
}

// TestFederationRingTimeoutDefault: a config that leaves the federation
// ring timeout out gives each overflow target 15 s, as the README says
// (it was 0: every target failed at once).
func TestFederationRingTimeoutDefault(t *testing.T) {
	p := writeConfig(t, func(s string) string {
		line := regexp.MustCompile(`(?m)^  federation_ring_timeout: .*\n`)
		if !line.MatchString(s) {
			t.Fatal("example lacks federation_ring_timeout")
		}
		return line.ReplaceAllString(s, "")
	})
	lc, err := loadConfig(p)
	if err == nil {
		err = lc.validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := lc.ACD.FederationRingTimeout; got != 15*time.Second {
		t.Errorf("federation ring timeout %v, want 15s", got)
	}
}

// TestCheckConfigMissingNumberPrompt: a prompts folder without a number
// prompt fails check-config on the announcement that needs it, with file
// and line (it used to play silence in the middle of "Position …").
func TestCheckConfigMissingNumberPrompt(t *testing.T) {
	src, _ := filepath.Abs("../../prompts/de")
	dir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(src, "*.wav"))
	for _, f := range files {
		if filepath.Base(f) == "num-7.wav" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := writeConfig(t, func(s string) string { return strings.Replace(s, "prompts_dir: "+src, "prompts_dir: "+dir, 1) })
	lc, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s:%d: acd.announce.position: prompt \"num-7.wav\" not found in %s", p, lineOf(t, p, "position: true"), dir)
	if err := lc.validateForServe(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %q", err, want)
	}
}

// TestDemoPasswordWarningOffLoopback: demo passwords are warned about (with
// file and line) once SIP listens beyond loopback, and not on loopback.
func TestDemoPasswordWarningOffLoopback(t *testing.T) {
	p := writeConfig(t, func(s string) string {
		return strings.Replace(s, "listen: 127.0.0.1:5060", "listen: 192.0.2.1:5060", 1)
	})
	lc, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	w := lc.warnings()
	want := fmt.Sprintf("%s:%d: acd.agents[0].password: demo password with non-loopback sip.listen", p, lineOf(t, p, "demo1001"))
	if len(w) != 6 || !strings.Contains(w[0], want) {
		t.Errorf("warnings %q", w)
	}
	lc2, _ := loadConfig("../../deploy/examples/region-hannover.yaml")
	if w := lc2.warnings(); len(w) != 0 {
		t.Errorf("loopback example warns: %q", w)
	}
}

// TestServeFlagsFromEnvironment: SC115_* variables set what the config
// file says, and flags win over both.
func TestServeFlagsFromEnvironment(t *testing.T) {
	t.Setenv("SC115_SIP_LISTEN", "127.0.0.1:5999")
	t.Setenv("SC115_INSTANCE", "from-env")
	f, err := parseServeFlags([]string{"--instance", "from-flag", "--redis", "redis://127.0.0.1:6379/0"})
	if err != nil {
		t.Fatal(err)
	}
	c := defaults()
	f.apply(&c)
	if c.SIP.Listen != "127.0.0.1:5999" || c.Instance != "from-flag" || c.Queue.Redis != "redis://127.0.0.1:6379/0" {
		t.Errorf("got listen %s instance %s redis %s", c.SIP.Listen, c.Instance, c.Queue.Redis)
	}
}

// lineOf is the 1-based line of the first line of file containing s.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	data, _ := os.ReadFile(file)
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in %s", s, file)
	return 0
}

// TestOpenMetricsWarningOffLoopback (issue 12, 8): an HTTP listener beyond
// loopback without metrics_token or metrics_listen is warned about, with
// file and line; either setting silences it.
func TestOpenMetricsWarningOffLoopback(t *testing.T) {
	p := writeConfig(t, func(s string) string {
		return strings.Replace(s, "listen: 127.0.0.1:8115", "listen: 192.0.2.1:8115", 1)
	})
	lc, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s:%d: http.listen 192.0.2.1:8115 is not loopback", p, lineOf(t, p, "192.0.2.1:8115"))
	if w := lc.warnings(); len(w) != 1 || !strings.Contains(w[0], want) {
		t.Errorf("warnings %q, want one with %q", w, want)
	}
	lc.HTTP.MetricsToken = "t"
	if w := lc.warnings(); len(w) != 0 {
		t.Errorf("with a token: %q", w)
	}
}

// TestCheckConfigMenu (issue 16): a menu pointing at a missing prompt or
// an unknown queue fails check-config with file and line of the field.
func TestCheckConfigMenu(t *testing.T) {
	for _, c := range []struct{ option, want string }{
		{`{prompt: no-such-prompt.wav}`, `acd.municipalities[1].menu.options.1.prompt: prompt "no-such-prompt.wav" not found`},
		{`{queue: nowhere}`, `acd.municipalities[1].menu.options.1.queue: no queue "nowhere"`},
	} {
		p := writeConfig(t, func(s string) string {
			return strings.Replace(s, "      # menu:", `      menu:
        prompt: menu-burgdorf.wav
        options:
          "1": `+c.option+`
      # menu:`, 1)
		})
		lc, err := loadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%s:%d: %s", p, lineOf(t, p, c.option), c.want)
		if err := lc.validateForServe(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v\nwant %q", err, want)
		}
	}
}

// TestCheckConfigCallback (issue 16): callbacks switched on in the
// example pass check-config with the shipped prompts (the dialog's and
// the digits'); without a trunk to dial out through they are refused with
// file:line; a menu's callback option needs them on.
func TestCheckConfigCallback(t *testing.T) {
	on := func(s string) string {
		return strings.Replace(s, "  # callback:", "  callback:\n    enabled: true\n  # callback:", 1)
	}
	lc, err := loadConfig(writeConfig(t, on))
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.validateForServe(); err != nil {
		t.Fatalf("the example with callbacks on: %v", err)
	}

	p := writeConfig(t, func(s string) string {
		return strings.Replace(on(s), `      outbound: "sip:{number}@127.0.0.1:5080"`, "", 1)
	})
	if lc, err = loadConfig(p); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s:%d: acd.callback.enabled: callbacks dial the citizen through a trunk", p, lineOf(t, p, "enabled: true"))
	if err := lc.validateForServe(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %q", err, want)
	}

	p = writeConfig(t, func(s string) string {
		return strings.Replace(s, "      # menu:", `      menu:
        prompt: menu-burgdorf.wav
        options:
          "9": {callback: true}
      # menu:`, 1)
	})
	if lc, err = loadConfig(p); err != nil {
		t.Fatal(err)
	}
	want = fmt.Sprintf("%s:%d: acd.municipalities[1].menu.options.9.callback: needs acd.callback.enabled", p, lineOf(t, p, "{callback: true}"))
	if err := lc.validateForServe(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %q", err, want)
	}
}
