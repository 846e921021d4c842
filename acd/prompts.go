package acd

import "fmt"

// PromptUse is one prompt file the configuration makes sc115 play, and the
// config field that names it (or, for built-in prompts, the field that
// turns them on), so a missing file is reported where the user can fix it.
type PromptUse struct {
	Field string
	File  string
}

// Prompts lists every prompt this section can play: greetings, hold
// tracks, closed and crisis prompts of each municipality, the busy and
// unknown-origin announcements when configured, the number prompts of the
// position and wait announcements, and the feature-code confirmations.
// Empty greeting and hold track fields are left out: they fall back to the
// media section's defaults, which media checks itself.
func (c *Config) Prompts() []PromptUse {
	var out []PromptUse
	add := func(field, file string) {
		if file != "" {
			out = append(out, PromptUse{Field: field, File: file})
		}
	}
	for i, m := range c.Municipalities {
		f := fmt.Sprintf("acd.municipalities[%d]", i)
		add(f+".greeting", m.Greeting)
		add(f+".hold_track", m.HoldTrack)
		add(f+".closed_prompt", m.ClosedPrompt)
		add(f+".crisis.greeting", m.Crisis.Greeting)
		if m.Menu != nil {
			menuPrompts(f+".menu", m.Menu, add)
		}
		if len(m.Directory) > 0 {
			add(f+".directory", PromptDepartmentClosed) // an agent's consultation with a closed department
		}
		if m.Overflow != nil && m.Overflow.OnFailure == "busy" {
			add(f+".overflow.on_failure", promptBusy)
		}
	}
	if c.UnknownOrigin == "announce" {
		add("acd.unknown_origin", promptUnknownOrigin)
	}
	if c.Announce.Position || c.Announce.Wait {
		field := "acd.announce.position"
		if !c.Announce.Position {
			field = "acd.announce.wait"
		}
		for n := 1; n <= 20; n++ {
			add(field, numberPrompt(n))
		}
		add(field, promptMoreThan20)
	}
	if c.Announce.Position {
		add("acd.announce.position", promptPosition)
	}
	if c.Announce.Wait {
		for _, p := range []string{promptWait, promptUnderOne, promptOneMinute, promptMinutes} {
			add("acd.announce.wait", p)
		}
	}
	c.Callback.prompts(add)
	for _, p := range []string{PromptLogin, PromptLogout, PromptPause, PromptReady, PromptWrapup, PromptRefused} {
		add("acd.feature_codes", p)
	}
	return out
}
