package acd

import (
	"errors"
	"fmt"
	"time"

	"github.com/sc115/sc115/internal/cfgerr"
)

// Config is the acd section of the sc115 configuration.
type Config struct {
	// CountryCode is used to normalise national numbers to E.164 ("49").
	CountryCode string `yaml:"country_code"`
	// Municipalities served by this center.
	Municipalities []Municipality `yaml:"municipalities"`
	// Agents who may log in.
	Agents []Agent `yaml:"agents"`
	// Queue holds the queue-wide timers.
	Queue QueueSettings `yaml:"queue"`
	// Federation lists other 115 service centers calls may overflow to
	// (used by the routing issue; parsed and validated now).
	Federation []FederationTarget `yaml:"federation"`
	// DrainTime is how long active calls may go on after SIGTERM.
	DrainTime time.Duration `yaml:"drain_time"`
}

// Municipality is one member of the service center.
type Municipality struct {
	Key        string   `yaml:"key"`
	Name       string   `yaml:"name"`
	Numbers    []string `yaml:"numbers"` // dialed numbers or prefixes, any national or E.164 form
	Population int      `yaml:"population"`
	Skill      string   `yaml:"skill"`    // queue/skill calls wait in; default: the key
	Greeting   string   `yaml:"greeting"` // prompt file; default: the media default greeting
}

// Agent is a person answering calls from a softphone.
type Agent struct {
	ID       string         `yaml:"id"`
	Name     string         `yaml:"name"`
	SIPUser  string         `yaml:"sip_user"`
	Password string         `yaml:"password"` // hashed to HA1 at load; prefer ha1
	HA1      string         `yaml:"ha1"`      // MD5(user:realm:password), hex
	Skills   map[string]int `yaml:"skills"`   // skill → proficiency 1–10
}

// QueueSettings are the timers of offering and wrap-up.
type QueueSettings struct {
	RingTimeout  time.Duration `yaml:"ring_timeout"`
	Wrapup       time.Duration `yaml:"wrapup"`
	NoAnswerRest time.Duration `yaml:"no_answer_rest"`
}

// FederationTarget is another service center's trunk.
type FederationTarget struct {
	Name string `yaml:"name"`
	URI  string `yaml:"uri"`
}

// Defaults returns the acd defaults.
func Defaults() Config {
	return Config{CountryCode: "49", DrainTime: 30 * time.Second,
		Queue: QueueSettings{RingTimeout: 20 * time.Second, Wrapup: 30 * time.Second, NoAnswerRest: 10 * time.Second}}
}

func fieldErr(field string, format string, a ...any) error {
	return cfgerr.New(field, format, a...)
}

// Validate checks the section and fills derived defaults (skills).
func (c *Config) Validate() error {
	var errs []error
	if c.CountryCode == "" {
		errs = append(errs, fieldErr("acd.country_code", "must be set, e.g. \"49\""))
	}
	if len(c.Municipalities) == 0 {
		errs = append(errs, fieldErr("acd.municipalities", "at least one municipality is needed"))
	}
	keys := map[string]bool{}
	numbers := map[string]string{}
	skills := map[string]bool{}
	for i := range c.Municipalities {
		m := &c.Municipalities[i]
		f := fmt.Sprintf("acd.municipalities[%d]", i)
		if m.Key == "" {
			errs = append(errs, fieldErr(f+".key", "must be set"))
		} else if keys[m.Key] {
			errs = append(errs, fieldErr(f+".key", "duplicate key %q", m.Key))
		}
		keys[m.Key] = true
		if m.Name == "" {
			errs = append(errs, fieldErr(f+".name", "must be set"))
		}
		if m.Skill == "" {
			m.Skill = m.Key
		}
		skills[m.Skill] = true
		if len(m.Numbers) == 0 {
			errs = append(errs, fieldErr(f+".numbers", "at least one dialed number is needed"))
		}
		for j, n := range m.Numbers {
			e164, ok := Normalize(n, c.CountryCode)
			nf := fmt.Sprintf("%s.numbers[%d]", f, j)
			if !ok {
				errs = append(errs, fieldErr(nf, "%q is not a phone number", n))
				continue
			}
			if other, dup := numbers[e164]; dup {
				errs = append(errs, fieldErr(nf, "%s is already routed to %s", e164, other))
			}
			numbers[e164] = m.Key
		}
	}
	ids := map[string]bool{}
	users := map[string]bool{}
	for i, a := range c.Agents {
		f := fmt.Sprintf("acd.agents[%d]", i)
		if a.ID == "" {
			errs = append(errs, fieldErr(f+".id", "must be set"))
		} else if ids[a.ID] {
			errs = append(errs, fieldErr(f+".id", "duplicate agent id %q", a.ID))
		}
		ids[a.ID] = true
		if a.SIPUser == "" {
			errs = append(errs, fieldErr(f+".sip_user", "must be set"))
		} else if users[a.SIPUser] {
			errs = append(errs, fieldErr(f+".sip_user", "duplicate SIP user %q", a.SIPUser))
		}
		users[a.SIPUser] = true
		if a.Password == "" && a.HA1 == "" {
			errs = append(errs, fieldErr(f+".password", "password or ha1 must be set"))
		}
		if len(a.Skills) == 0 {
			errs = append(errs, fieldErr(f+".skills", "at least one skill is needed"))
		}
		for s, lvl := range a.Skills {
			if lvl < 1 || lvl > 10 {
				errs = append(errs, fieldErr(f+".skills."+s, "level %d is outside 1–10", lvl))
			}
			if !skills[s] {
				errs = append(errs, fieldErr(f+".skills."+s, "no municipality uses skill %q", s))
			}
		}
	}
	if c.Queue.RingTimeout <= 0 {
		errs = append(errs, fieldErr("acd.queue.ring_timeout", "must be positive"))
	}
	if c.Queue.Wrapup < 0 {
		errs = append(errs, fieldErr("acd.queue.wrapup", "must not be negative"))
	}
	for i, t := range c.Federation {
		if t.URI == "" {
			errs = append(errs, fieldErr(fmt.Sprintf("acd.federation[%d].uri", i), "must be set"))
		}
	}
	return errors.Join(errs...)
}
