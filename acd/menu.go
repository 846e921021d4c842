package acd

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sc115/sc115/cdr"
)

// A municipality's DTMF menu (issue 16): after the greeting the caller
// hears what the keys do and presses one; an option either informs
// (plays a prompt, then the call ends: e.g. the Bürgerbüro's hours) or
// sends the call to a queue. No key within the timeout: the prompt again,
// then the default. A key that means nothing: the invalid-key prompt,
// then the menu again (it counts as a try).

// Menu is a municipality's key menu after the greeting.
type Menu struct {
	// Prompt tells the caller the keys (required).
	Prompt string `yaml:"prompt"`
	// InvalidPrompt is played after a key that means nothing (default
	// menu-invalid.wav).
	InvalidPrompt string `yaml:"invalid_prompt"`
	// Timeout is how long after the prompt a key is awaited (default 5 s).
	Timeout time.Duration `yaml:"timeout"`
	// Tries is how often the prompt is played before the default applies
	// (default 2).
	Tries int `yaml:"tries"`
	// Default is the key whose option applies when none was chosen; empty:
	// the municipality's own queue.
	Default string `yaml:"default"`
	// Options by key (0–9, *, #).
	Options map[string]MenuOption `yaml:"options"`
}

// MenuOption is what a key does: exactly one of Prompt, Queue and
// Callback.
type MenuOption struct {
	// Prompt is played, then the call ends (information only).
	Prompt string `yaml:"prompt"`
	// Queue is the queue (skill) the call waits in instead of the
	// municipality's own.
	Queue string `yaml:"queue"`
	// Callback: the caller asks to be called back at once (the callback
	// dialog; needs acd.callback.enabled). The call takes its place in
	// the municipality's queue first.
	Callback bool `yaml:"callback"`
}

// promptMenuInvalid is the default invalid-key prompt.
const promptMenuInvalid = "menu-invalid.wav"

// menuKeys are the keys a menu option may use.
const menuKeys = "0123456789*#"

// validateMenu fills a menu's defaults and checks every key and target;
// queues are the known queues (municipalities' skills and acd.queues).
func validateMenu(f string, m *Menu, queues map[string]bool, callbacks bool) []error {
	var errs []error
	if m.Prompt == "" {
		errs = append(errs, fieldErr(f+".prompt", "must be set (what the keys do)"))
	}
	if m.InvalidPrompt == "" {
		m.InvalidPrompt = promptMenuInvalid
	}
	if m.Timeout == 0 {
		m.Timeout = 5 * time.Second
	}
	if m.Timeout < 0 {
		errs = append(errs, fieldErr(f+".timeout", "%v is negative", m.Timeout))
	}
	if m.Tries == 0 {
		m.Tries = 2
	}
	if m.Tries < 1 || m.Tries > 5 {
		errs = append(errs, fieldErr(f+".tries", "%d is outside 1–5", m.Tries))
	}
	if len(m.Options) == 0 {
		errs = append(errs, fieldErr(f+".options", "a menu needs at least one option"))
	}
	keys := make([]string, 0, len(m.Options))
	for k := range m.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o, of := m.Options[k], f+".options."+k
		if len(k) != 1 || !strings.Contains(menuKeys, k) {
			errs = append(errs, fieldErr(of, "%q is not a key (0–9, *, #)", k))
		}
		set := 0
		for _, b := range []bool{o.Prompt != "", o.Queue != "", o.Callback} {
			if b {
				set++
			}
		}
		switch {
		case set != 1:
			errs = append(errs, fieldErr(of, "needs exactly one of prompt (inform, then end), queue and callback"))
		case o.Callback && !callbacks:
			errs = append(errs, fieldErr(of+".callback", "needs acd.callback.enabled"))
		case o.Queue != "" && !queues[o.Queue]:
			errs = append(errs, fieldErr(of+".queue", "no queue %q (a municipality's skill or an acd.queues entry)", o.Queue))
		}
	}
	if _, ok := m.Options[m.Default]; m.Default != "" && !ok {
		errs = append(errs, fieldErr(f+".default", "key %q has no option", m.Default))
	}
	return errs
}

// menuPrompts lists a menu's prompts for the prompt check.
func menuPrompts(f string, m *Menu, add func(field, file string)) {
	add(f+".prompt", m.Prompt)
	add(f+".invalid_prompt", orDefaultString(m.InvalidPrompt, promptMenuInvalid))
	for k, o := range m.Options {
		add(fmt.Sprintf("%s.options.%s.prompt", f, k), o.Prompt)
	}
}

// menu runs the municipality's menu; done means the call ended in it
// (st is its final state); otherwise the call goes on to its queue
// (c.queueSkill set when an option chose another one).
func (c *call) menu(ctx context.Context) (st CallState, done bool) {
	m := *c.muni.Menu
	// Validate fills these; a menu built in code may leave them out.
	m.Tries, m.Timeout = cmp.Or(m.Tries, 2), cmp.Or(m.Timeout, 5*time.Second)
	m.InvalidPrompt = orDefaultString(m.InvalidPrompt, promptMenuInvalid)
	for try := 0; try < m.Tries; try++ {
		key, st, done := c.menuKey(ctx, &m)
		if done {
			return st, true
		}
		if key == 0 { // no key in time: the prompt again
			continue
		}
		if o, ok := m.Options[string(key)]; ok {
			c.log.Info().Str("key", string(key)).Msg("menu: option chosen")
			return c.menuOption(o)
		}
		c.log.Info().Str("key", string(key)).Msg("menu: invalid key")
		if st, done := c.playFully(ctx, m.InvalidPrompt); done {
			return st, true
		}
	}
	c.log.Info().Str("default", m.Default).Msg("menu: no choice; default")
	if o, ok := m.Options[m.Default]; ok {
		return c.menuOption(o)
	}
	return "", false
}

// menuKey plays the menu prompt and waits for a key: one pressed while
// the prompt plays counts (callers who know the menu need not wait), 0
// after the timeout.
func (c *call) menuKey(ctx context.Context, m *Menu) (rune, CallState, bool) {
	played := c.leg.PlayIntro([]string{m.Prompt}, "")
	var timeout <-chan time.Time
	for {
		select {
		case <-played:
			played = nil
			t := time.NewTimer(m.Timeout)
			defer t.Stop()
			timeout = t.C
		case <-timeout:
			return 0, "", false
		case k := <-c.leg.DTMF():
			return k, "", false
		case <-c.leg.Ended():
			return 0, c.endUnanswered(), true
		case <-c.e.stop:
			return 0, c.endUnanswered(), true
		case <-ctx.Done():
			return 0, c.endUnanswered(), true
		}
	}
}

// menuOption applies an option: inform and end, or a queue.
func (c *call) menuOption(o MenuOption) (CallState, bool) {
	if o.Callback {
		c.callbackAsked = true
		return "", false
	}
	if o.Queue != "" {
		if o.Queue != c.muni.Skill {
			c.queueSkill, c.rec.Queue = o.Queue, o.Queue
		}
		return "", false
	}
	if st, done := c.playFully(context.Background(), o.Prompt); done {
		return st, true
	}
	c.leg.Hangup()
	c.rec.HangupBy = "system"
	return c.finish(cdr.SelfService, StateDone, c.muni.Key), true
}

// playFully plays one prompt to its end; done if the caller hung up
// (or sc115 stops) meanwhile.
func (c *call) playFully(ctx context.Context, prompt string) (CallState, bool) {
	select {
	case <-c.leg.PlayIntro([]string{prompt}, ""):
		return "", false
	case <-c.leg.Ended():
		return c.endUnanswered(), true
	case <-c.e.stop:
		return c.endUnanswered(), true
	case <-ctx.Done():
		return c.endUnanswered(), true
	}
}
