package queue

import (
	"net/url"

	"github.com/sc115/sc115/internal/cfgerr"
)

// Config is the queue section of the sc115 configuration.
type Config struct {
	// Redis is redis://host:port/db, rediss://… or
	// redis-sentinel://MASTER@host:port,host:port/db; empty means the
	// embedded store.
	Redis string `yaml:"redis"`
}

// Validate checks the section.
func (c *Config) Validate() error {
	if c.Redis == "" {
		return nil
	}
	client, _, err := newClient(c.Redis) // parses only; connects on first use
	if err != nil {
		return cfgerr.New("queue.redis", "%v", err)
	}
	_ = client.Close()
	u, _ := url.Parse(c.Redis)
	if u == nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "redis-sentinel") {
		return cfgerr.New("queue.redis", "%q is not a redis://, rediss:// or redis-sentinel:// URL", c.Redis)
	}
	return nil
}
