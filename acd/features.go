package acd

import (
	"errors"
	"strings"
	"time"

	"github.com/sc115/sc115/queue"
)

// FeatureCodes are what an agent dials from its phone to change its state.
type FeatureCodes struct {
	Login        string `yaml:"login"`         // log in to all own skills
	Logout       string `yaml:"logout"`        // log out
	Pause        string `yaml:"pause"`         // pause; *43*2 = with reason 2 (see pause_reasons)
	Ready        string `yaml:"ready"`         // end a pause or the wrap-up early
	WrapupExtend string `yaml:"wrapup_extend"` // more wrap-up time (wrapup_extension)
}

// DefaultFeatureCodes are *41 … *45.
func DefaultFeatureCodes() FeatureCodes {
	return FeatureCodes{Login: "*41", Logout: "*42", Pause: "*43", Ready: "*44", WrapupExtend: "*45"}
}

// ErrNoFeature means the dialed string is no feature code.
var ErrNoFeature = errors.New("no such feature code")

// Feature prompts: the confirmation each feature code plays (prompt files
// in media.prompts_dir), and the one played when the code cannot work now.
const (
	PromptLogin   = "feature-login.wav"
	PromptLogout  = "feature-logout.wav"
	PromptPause   = "feature-pause.wav"
	PromptReady   = "feature-ready.wav"
	PromptWrapup  = "feature-wrapup.wav"
	PromptRefused = "feature-failed.wav"
)

// Feature runs the feature code an agent dialed from its (authenticated,
// registered) phone, with the same transitions as the API. It returns the
// confirmation prompt to play; a code that cannot work now (e.g. ready
// while logged out) returns PromptRefused and the reason.
func (e *Engine) Feature(agentID, dialed string) (string, error) {
	fc := e.cfg.FeatureCodes
	code, arg, _ := strings.Cut(strings.TrimPrefix(dialed, "*"), "*")
	code = "*" + code
	var prompt string
	var err error
	switch code {
	case fc.Login:
		prompt, err = PromptLogin, e.Login(agentID)
	case fc.Logout:
		prompt, err = PromptLogout, e.Logout(agentID)
	case fc.Pause:
		reason := "break"
		if arg != "" {
			reason = e.cfg.PauseReasons[arg]
			if reason == "" {
				reason = "code-" + arg
			}
		}
		prompt, err = PromptPause, e.Pause(agentID, reason)
	case fc.Ready:
		prompt, err = PromptReady, e.Ready(agentID)
	case fc.WrapupExtend:
		prompt, err = PromptWrapup, e.ExtendWrapup(agentID)
	default:
		return "", ErrNoFeature
	}
	e.log.Info().Str("agent", agentID).Str("feature", dialed).AnErr("refused", err).Msg("feature code")
	if err != nil {
		return PromptRefused, err
	}
	return prompt, nil
}

// ExtendWrapup gives an agent in wrap-up more time (acd.wrapup_extension),
// on whichever instance the wrap-up runs.
func (e *Engine) ExtendWrapup(agentID string) error {
	a, err := e.agent(agentID)
	if err != nil {
		return err
	}
	if a.extendWrapupHere("", e.cfg.WrapupExtension) {
		return nil
	}
	return e.signalWrapup(agentID, queue.SignalExtend)
}

func defaultWrapupExtension() time.Duration { return time.Minute }
