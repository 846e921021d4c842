package cdr

import (
	"time"

	"github.com/sc115/sc115/internal/cfgerr"
)

// Config is the cdr section of the sc115 configuration.
type Config struct {
	// Dir is where CSV files are written; the --cdr-dir flag overrides it.
	Dir string `yaml:"dir"`
	// CallerPolicy says how caller numbers are stored: "shorten" (last three
	// digits replaced by x, the default), "hash" (keyed HMAC-SHA256) or "full".
	CallerPolicy string `yaml:"caller_policy"`
	// HashKey is the HMAC key for the "hash" policy.
	HashKey string `yaml:"hash_key"`
	// SpoolDir is where rows still held in memory at shutdown (the disk
	// refused them) are written; default: Dir itself, where billing reads
	// them. Point it at another disk to survive a full one; then move the
	// file into Dir before billing.
	SpoolDir string `yaml:"spool_dir"`
	// ShortAbandon: a caller who hangs up before an agent answered and
	// within this time is "abandoned_short" (reported apart), default 5s.
	ShortAbandon time.Duration `yaml:"short_abandon"`
}

// Defaults returns the cdr defaults.
func Defaults() Config {
	return Config{Dir: "var/cdr", CallerPolicy: "shorten", ShortAbandon: 5 * time.Second}
}

// Validate checks the section.
func (c *Config) Validate() error {
	switch c.CallerPolicy {
	case "shorten", "full":
	case "hash":
		if len(c.HashKey) < 16 {
			return cfgerr.New("cdr.hash_key", "the hash policy needs a key of at least 16 characters")
		}
	default:
		return cfgerr.New("cdr.caller_policy", "%q is not one of shorten, hash, full", c.CallerPolicy)
	}
	return nil
}
