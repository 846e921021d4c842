package acd

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
)

// withMenu gives Burgdorf a menu: 1 = the Bürgerbüro's hours (a prompt,
// then the end), 2 = Lehrte's queue; a short timeout keeps tests short.
func withMenu(c *Config) {
	c.Municipalities[0].Greeting = "greeting.wav"
	c.Municipalities[0].Menu = &Menu{Prompt: "menu.wav", Timeout: 100 * time.Millisecond,
		Options: map[string]MenuOption{"1": {Prompt: "hours.wav"}, "2": {Queue: "lehrte"}}}
}

func menuCall(id string, keys ...rune) *fakeLeg {
	l := newFakeLeg(id, "+495136115")
	l.keys = make(chan rune, len(keys)+1)
	for _, k := range keys {
		l.keys <- k
	}
	return l
}

func (l *fakeLeg) played() []string {
	l.playMu.Lock()
	defer l.playMu.Unlock()
	return append([]string(nil), l.intros...)
}

// TestMenuBranches (issue 16): every branch of a municipality's menu,
// an invalid key and the timeout, as the caller and the CDR see them.
func TestMenuBranches(t *testing.T) {
	t.Run("1 informs and ends the call", func(t *testing.T) {
		e, d, s := testEngine(t, withMenu)
		e.AgentRegistered("a1")
		waitAgentState(t, e, "a1", AgentAvailable)
		leg := menuCall("m1", '1')
		go e.HandleCall(leg)
		r := waitRec(t, s)
		if r.Disposition != cdr.SelfService || r.HangupBy != "system" || r.Agent != "" {
			t.Errorf("CDR %s by %s agent %q, want self_service by system without agent", r.Disposition, r.HangupBy, r.Agent)
		}
		if p := leg.played(); !slices.Equal(p, []string{"greeting.wav", "menu.wav", "hours.wav"}) {
			t.Errorf("played %v, want greeting, menu, hours", p)
		}
		select {
		case <-leg.hungUp:
		default:
			t.Error("sc115 did not hang up after the information")
		}
		if o := offersSoFar(d); len(o) != 0 {
			t.Errorf("an agent was offered the call: %v", o)
		}
	})
	t.Run("2 chooses another queue", func(t *testing.T) {
		e, d, s := testEngine(t, withMenu)
		e.AgentRegistered("a1") // Burgdorf's, free: must not get it
		e.AgentRegistered("junior")
		waitAgentState(t, e, "a1", AgentAvailable)
		waitAgentState(t, e, "junior", AgentAvailable)
		leg := menuCall("m2", '2')
		go e.HandleCall(leg)
		al := connect(t, d)
		waitCallState(t, e, "m2", StateConnected)
		if o := offersSoFar(d); len(o) != 1 || o[0] != "junior:m2" {
			t.Errorf("offers %v, want Lehrte's junior", o)
		}
		al.Hangup()
		if r := waitRec(t, s); r.Queue != "lehrte" || r.Agent != "junior" || r.Disposition != cdr.Answered {
			t.Errorf("CDR queue %q agent %q %s, want lehrte, junior, answered", r.Queue, r.Agent, r.Disposition)
		}
	})
	t.Run("an invalid key, then 1", func(t *testing.T) {
		e, _, s := testEngine(t, withMenu)
		leg := menuCall("m3", '7', '1')
		go e.HandleCall(leg)
		if r := waitRec(t, s); r.Disposition != cdr.SelfService {
			t.Errorf("CDR %s, want self_service", r.Disposition)
		}
		if p := leg.played(); !slices.Equal(p, []string{"greeting.wav", "menu.wav", promptMenuInvalid, "menu.wav", "hours.wav"}) {
			t.Errorf("played %v, want greeting, menu, invalid, menu, hours", p)
		}
	})
	t.Run("no key: the menu twice, then the own queue", func(t *testing.T) {
		e, d, _ := testEngine(t, withMenu)
		e.AgentRegistered("a1")
		waitAgentState(t, e, "a1", AgentAvailable)
		leg := menuCall("m4")
		go e.HandleCall(leg)
		al := connect(t, d)
		defer al.Hangup()
		waitCallState(t, e, "m4", StateConnected)
		if p := leg.played(); !slices.Equal(p, []string{"greeting.wav", "menu.wav", "menu.wav"}) {
			t.Errorf("played %v, want greeting and the menu twice", p)
		}
		if o := offersSoFar(d); len(o) != 1 || o[0] != "a1:m4" {
			t.Errorf("offers %v, want Burgdorf's a1", o)
		}
		leg.end()
	})
	t.Run("no key with a default: its option", func(t *testing.T) {
		e, _, s := testEngine(t, withMenu, func(c *Config) { c.Municipalities[0].Menu.Default = "1" })
		leg := menuCall("m5")
		go e.HandleCall(leg)
		if r := waitRec(t, s); r.Disposition != cdr.SelfService {
			t.Errorf("CDR %s, want self_service (the default, 1)", r.Disposition)
		}
	})
	t.Run("hung up in the menu", func(t *testing.T) {
		e, _, s := testEngine(t, withMenu, func(c *Config) { c.Municipalities[0].Menu.Timeout = time.Hour })
		leg := menuCall("m6")
		go e.HandleCall(leg)
		waitCallState(t, e, "m6", StateRouted)
		leg.end()
		if r := waitRec(t, s); r.Disposition != cdr.Abandoned && r.Disposition != cdr.AbandonedShort {
			t.Errorf("CDR %s, want abandoned", r.Disposition)
		}
	})
}

// TestMenuIsChecked: each mistake in a menu names its field.
func TestMenuIsChecked(t *testing.T) {
	for _, c := range []struct {
		edit  func(m *Menu)
		field string
	}{
		{func(m *Menu) { m.Prompt = "" }, "menu.prompt"},
		{func(m *Menu) { m.Options["x"] = MenuOption{Prompt: "a.wav"} }, "menu.options.x"},
		{func(m *Menu) { m.Options["3"] = MenuOption{Prompt: "a.wav", Queue: "lehrte"} }, "menu.options.3"},
		{func(m *Menu) { m.Options["3"] = MenuOption{} }, "menu.options.3"},
		{func(m *Menu) { m.Options["3"] = MenuOption{Queue: "nowhere"} }, "menu.options.3.queue"},
		{func(m *Menu) { m.Default = "9" }, "menu.default"},
		{func(m *Menu) { m.Tries = 9 }, "menu.tries"},
	} {
		cfg := testConfigACD()
		withMenu(&cfg)
		c.edit(cfg.Municipalities[0].Menu)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "acd.municipalities[0]."+c.field) {
			t.Errorf("want an error at %s, got %v", c.field, err)
		}
	}
	cfg := testConfigACD()
	withMenu(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the good menu: %v", err)
	}
	var fields []string
	for _, p := range cfg.Prompts() {
		if strings.Contains(p.Field, ".menu") {
			fields = append(fields, p.Field+"="+p.File)
		}
	}
	slices.Sort(fields)
	want := []string{"acd.municipalities[0].menu.invalid_prompt=" + promptMenuInvalid, "acd.municipalities[0].menu.options.1.prompt=hours.wav", "acd.municipalities[0].menu.prompt=menu.wav"}
	if !slices.Equal(fields, want) {
		t.Errorf("menu prompts to check %v, want %v", fields, want)
	}
}
