package acd

import (
	"fmt"
	"time"
)

// AnnounceSettings say when a waiting caller hears its position and
// estimated wait, spoken from number prompts (prompts/de/num-*.wav …).
type AnnounceSettings struct {
	Position bool          `yaml:"position"`
	Wait     bool          `yaml:"wait"`
	Every    time.Duration `yaml:"every"` // repeat while waiting (0: only on entry)
	// OnlyWhenImproved repeats the position only when it got better.
	OnlyWhenImproved bool `yaml:"only_when_improved"`
}

// Prompt files of the announcements.
const (
	promptPosition   = "position-intro.wav" // "Sie sind an Position"
	promptWait       = "wait-intro.wav"     // "Die voraussichtliche Wartezeit beträgt etwa"
	promptUnderOne   = "wait-lt1.wav"       // "weniger als eine Minute."
	promptOneMinute  = "wait-1min.wav"      // "eine Minute."
	promptMinutes    = "minutes.wav"        // "Minuten."
	promptMoreThan20 = "more-than-20.wav"   // "mehr als zwanzig"

	promptBusy          = "busy.wav"           // every line busy (overflow on_failure: busy)
	promptUnknownOrigin = "unknown-origin.wav" // "your region is not connected yet"
)

func numberPrompt(n int) string { return fmt.Sprintf("num-%d.wav", n) }

// announcement is the prompt sequence for a position and an estimated
// wait: "Sie sind an Position drei. Die voraussichtliche Wartezeit beträgt
// etwa vier Minuten." Numbers above 20 are said as "mehr als zwanzig".
func announcement(s AnnounceSettings, pos int, ewt time.Duration, lastPos int) []string {
	var out []string
	if s.Position && pos > 0 && (!s.OnlyWhenImproved || lastPos == 0 || pos < lastPos) {
		out = append(out, promptPosition, number(pos))
	}
	if s.Wait && pos > 0 {
		mins := int((ewt + 30*time.Second) / time.Minute) // to the nearest minute
		out = append(out, promptWait)
		switch {
		case ewt < time.Minute:
			out = append(out, promptUnderOne)
		case mins <= 1:
			out = append(out, promptOneMinute)
		default:
			out = append(out, number(mins), promptMinutes)
		}
	}
	return out
}

func number(n int) string {
	if n > 20 {
		return promptMoreThan20
	}
	return numberPrompt(n)
}
