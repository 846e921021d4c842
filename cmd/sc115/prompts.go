package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/cfgerr"
)

// promptUses are all prompt files the configuration plays: the media
// defaults and everything the acd section names or turns on.
func promptUses(c *Config) []acd.PromptUse {
	uses := []acd.PromptUse{{Field: "media.hold_track", File: c.Media.HoldTrack}, {Field: "media.default_greeting", File: c.Media.DefaultGreeting}}
	return append(uses, c.ACD.Prompts()...)
}

// checkPrompts reports, for every prompt the config plays, a missing file
// as an error on the field that names it; has says whether a file is
// there. Without it a typo in a crisis greeting or a missing number prompt
// would play silence to callers.
func checkPrompts(c *Config, has func(file string) bool) error {
	if has == nil {
		return cfgerr.New("media.prompts_dir", "folder %q not found", c.Media.PromptsDir)
	}
	var errs []error
	seen := map[acd.PromptUse]bool{}
	for _, u := range promptUses(c) {
		if seen[u] || has(u.File) {
			continue
		}
		seen[u] = true
		errs = append(errs, cfgerr.New(u.Field, "prompt %q not found in %s", u.File, c.Media.PromptsDir))
	}
	return errors.Join(errs...)
}

// promptFileExists is checkPrompts' test on disk (check-config, serve
// before start); nil when dir is no folder.
func promptFileExists(dir string) func(string) bool {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil
	}
	return func(file string) bool {
		st, err := os.Stat(filepath.Join(dir, file))
		return err == nil && st.Mode().IsRegular()
	}
}
