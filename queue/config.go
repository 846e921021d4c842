package queue

import (
	"net/url"

	"github.com/sc115/sc115/internal/cfgerr"
)

// Config is the queue section of the sc115 configuration.
type Config struct {
	// Redis is a redis:// URL; empty means the embedded store.
	Redis string `yaml:"redis"`
}

// Validate checks the section.
func (c *Config) Validate() error {
	if c.Redis == "" {
		return nil
	}
	u, err := url.Parse(c.Redis)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return cfgerr.New("queue.redis", "%q is not a redis:// URL", c.Redis)
	}
	return nil
}
