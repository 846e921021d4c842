package acd

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// Queue holds the defaults for every queue (skill).
	Queue QueueSettings `yaml:"queue"`
	// Queues overrides Queue per skill; unset fields inherit.
	Queues map[string]QueueSettings `yaml:"queues"`
	// DefaultHandleTime is the handling time (talk + wrap-up) assumed for
	// wait-time estimates until a skill has handled calls.
	DefaultHandleTime time.Duration `yaml:"default_handle_time"`
	// Hours are the default opening hours; municipalities may have their own.
	Hours Hours `yaml:"hours"`
	// ServiceLevel is the answer-time threshold of the service level (the
	// 115 promise: 75 % answered within 30 s).
	ServiceLevel time.Duration `yaml:"service_level"`
	// Announce says when waiting callers hear position and wait.
	Announce AnnounceSettings `yaml:"announce"`
	// Callback is virtual hold: waiting callers may be called back at
	// their place (callbackconfig.go).
	Callback Callback `yaml:"callback"`
	// Tickets are callbacks agents book for later (tickets.go).
	Tickets Tickets `yaml:"tickets"`
	// FeatureCodes agents dial from their phones (default *41 … *45).
	FeatureCodes FeatureCodes `yaml:"feature_codes"`
	// PauseReasons names the digits of "*43*<digits>".
	PauseReasons map[string]string `yaml:"pause_reasons"`
	// WrapupExtension is how much longer *45 makes the wrap-up.
	WrapupExtension time.Duration `yaml:"wrapup_extension"`
	// KnowledgeBaseURL is a link template for the agent's console, sent in
	// Call-Info with each offer: {municipality} (key), {name} and {call_id}
	// are replaced.
	KnowledgeBaseURL string `yaml:"knowledge_base_url"`
	// APIToken protects the HTTP API (Authorization: Bearer …); empty
	// disables the API's state-changing calls.
	APIToken string `yaml:"api_token"`
	// Federation lists other 115 service centers calls may overflow to
	// (used by the routing issue; parsed and validated now).
	Federation []FederationTarget `yaml:"federation"`
	// UnknownOrigin is what a call to a number no municipality has gets:
	// "reject" (404, the default), "announce" (answered: "your region is not
	// yet connected", unknown-origin.wav, then hung up), or the key of a
	// municipality whose queue takes such calls.
	UnknownOrigin string `yaml:"unknown_origin"`
	// FederationRingTimeout is how long an overflow target may take to
	// answer before the next one is tried (default 15 s).
	FederationRingTimeout time.Duration `yaml:"federation_ring_timeout"`
	// TransferRingTimeout is how long the target of an agent's transfer
	// (a number, an agent, another center) may ring before the caller is
	// back with the agent (default 30 s).
	TransferRingTimeout time.Duration `yaml:"transfer_ring_timeout"`
	// MaxCalls is the most concurrent calls the instance takes (0: no
	// limit): a new INVITE beyond it gets 503 with Retry-After, and while
	// the instance is full the instance-overloaded overflow rule sends
	// waiting calls of municipalities with overflow rules to the federation.
	MaxCalls int `yaml:"max_calls"`
	// MaxCPUPercent overloads the instance while its CPU use (all cores,
	// 100 = one core, sampled every second) is above it (0: off): new
	// INVITEs get 503 with Retry-After, waiting calls may overflow.
	MaxCPUPercent int `yaml:"max_cpu_percent"`
	// MaxNewCallsPerSecond is the most new calls a second the instance
	// takes, whatever their source (0: no limit; bursts of one second's
	// worth): beyond it an INVITE gets 503 with Retry-After before anything
	// is stored or answered, so a front proxy sends it to another instance.
	// sip.limits.trunk_invites_per_second counts per trunk address; behind
	// Kamailio every call has the same one.
	MaxNewCallsPerSecond float64 `yaml:"max_new_calls_per_second"`
	// RetryAfter is the Retry-After of a 503 (overloaded or draining;
	// default 30 s).
	RetryAfter time.Duration `yaml:"retry_after"`
	// ServiceLevelFormula: "offered_minus_short" (default: answered within
	// threshold ÷ (offered − short abandons)) or "offered" (÷ offered).
	ServiceLevelFormula string `yaml:"service_level_formula"`
	// DrainTime is how long active calls may go on after SIGTERM.
	DrainTime time.Duration `yaml:"drain_time"`
}

// Municipality is one member of the service center.
type Municipality struct {
	Key        string   `yaml:"key"`
	Name       string   `yaml:"name"`
	Numbers    []string `yaml:"numbers"` // dialed numbers or prefixes, any national or E.164 form
	Population int      `yaml:"population"`
	Skill      string   `yaml:"skill"`     // queue/skill calls wait in; default: the key
	MinLevel   int      `yaml:"min_level"` // proficiency an agent needs at first (1–10, default 1)
	Priority   int      `yaml:"priority"`  // 1–9, higher first (0 or unset: 5)
	Greeting   string   `yaml:"greeting"`  // prompt file; default: the media default greeting
	// GreetingMode says whether the greeting is heard in full (complete,
	// the default: e.g. a data-protection notice that must be played) or
	// cut off when an agent answers (interruptible). The crisis greeting
	// follows the same mode.
	GreetingMode GreetingMode `yaml:"greeting_mode"`
	// Menu, if set, is played after the greeting: keys that inform or
	// choose a queue (menu.go).
	Menu *Menu `yaml:"menu"`
	// HoldTrack is the municipality's hold class: the track its waiting
	// callers hear (a prompt file; default: media.hold_track).
	HoldTrack string `yaml:"hold_track"`
	// Hours override acd.hours for this municipality.
	Hours *Hours `yaml:"hours"`
	// ClosedPrompt is played outside opening hours (default closed.wav).
	ClosedPrompt string `yaml:"closed_prompt"`
	// Overflow rules to the 115 federation (none: calls always wait here).
	Overflow *OverflowRules `yaml:"overflow"`
	// Crisis is what changes while the municipality is in crisis mode
	// (switched at run time by the API, or on at start with active).
	Crisis CrisisSettings `yaml:"crisis"`
	// Directory are the municipality's offices agents transfer callers
	// to, by key (e.g. buergerbuero): see Department.
	Directory map[string]Department `yaml:"directory"`
}

// CrisisSettings are a municipality's crisis mode: its own greeting, a
// higher priority, and opening hours of its own (e.g. around the clock).
type CrisisSettings struct {
	Active   bool   `yaml:"active"`
	Greeting string `yaml:"greeting"` // default crisis-greeting.wav
	Priority int    `yaml:"priority"` // default 8
	Hours    *Hours `yaml:"hours"`    // default: always open
	// AddSkills lets agents of these skills take the crisis calls too.
	AddSkills []string `yaml:"add_skills"`
	// Numbers are crisis hotlines routed to the municipality only while
	// crisis mode is on (otherwise they are unknown numbers).
	Numbers []string `yaml:"numbers"`
}

// Agent is a person answering calls from a softphone.
type Agent struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	SIPUser  string `yaml:"sip_user"`
	Password string `yaml:"password"` // hashed to HA1 at load; prefer ha1
	HA1      string `yaml:"ha1"`      // MD5(user:realm:password), hex
	// HA1SHA256 is SHA-256(user:realm:password), hex, for RFC 8760 digest.
	HA1SHA256 string         `yaml:"ha1_sha256"`
	Skills    map[string]int `yaml:"skills"` // skill → proficiency 1–10
	// AutoAnswer sends Alert-Info/Call-Info headers that make phones
	// answer offers at once (headset-only setups).
	AutoAnswer bool `yaml:"auto_answer"`
	// RequireTLS: the agent's phone must use SIP over TLS (sip.tls).
	RequireTLS bool `yaml:"require_tls"`
	// RingTimeout and Wrapup override the queue's values for this agent.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	Wrapup      time.Duration `yaml:"wrapup"`
}

// QueueSettings are how one queue (skill) distributes calls.
type QueueSettings struct {
	// Strategy: longest-idle (default), best-skill (highest level, then
	// longest idle), round-robin, fewest-calls, least-talk.
	Strategy    string        `yaml:"strategy"`
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// Wrapup is the after-call work time; it ends earlier when the agent
	// says ready.
	Wrapup time.Duration `yaml:"wrapup"`
	// NoAnswerRest keeps an agent who let an offer ring out of distribution
	// for a moment; MaxNoAnswers consecutive ones pause the agent
	// (reason no-answer) until it says ready.
	NoAnswerRest time.Duration `yaml:"no_answer_rest"`
	MaxNoAnswers int           `yaml:"max_no_answers"`
	// Escalation widens who may take a waiting call, step by step; the call
	// keeps its place.
	Escalation []EscalationStep `yaml:"escalation"`
}

// EscalationStep applies once a call has waited After: lower the level
// agents need (MinLevel > 0), and/or let agents of further skills take it.
type EscalationStep struct {
	After     time.Duration `yaml:"after"`
	MinLevel  int           `yaml:"min_level"`
	AddSkills []string      `yaml:"add_skills"`
}

// Strategies sc115 knows.
var Strategies = []string{"longest-idle", "best-skill", "round-robin", "fewest-calls", "least-talk"}

// settings returns the queue settings for skill: its own over the defaults.
func (c *Config) settings(skill string) QueueSettings {
	q := c.Queue
	o, ok := c.Queues[skill]
	if !ok {
		return q
	}
	if o.Strategy != "" {
		q.Strategy = o.Strategy
	}
	if o.RingTimeout > 0 {
		q.RingTimeout = o.RingTimeout
	}
	if o.Wrapup > 0 {
		q.Wrapup = o.Wrapup
	}
	if o.NoAnswerRest > 0 {
		q.NoAnswerRest = o.NoAnswerRest
	}
	if o.MaxNoAnswers > 0 {
		q.MaxNoAnswers = o.MaxNoAnswers
	}
	if o.Escalation != nil {
		q.Escalation = o.Escalation
	}
	return q
}

// FederationTarget is another service center's trunk.
type FederationTarget struct {
	Name string `yaml:"name"`
	URI  string `yaml:"uri"`
	// MaxCalls limits concurrent overflow calls to this center (0: none).
	MaxCalls int `yaml:"max_calls"`
	// Weight > 0 on any target makes the order a weighted random choice per
	// call (a contract share between centers) instead of the listed order.
	Weight int `yaml:"weight"`
}

// OverflowRules say when a municipality's call goes to the 115 federation
// instead of waiting here. Checked on arrival and every second while the
// call waits; the first rule that holds sends it.
type OverflowRules struct {
	NoAgents    bool          `yaml:"no_agents"`     // nobody logged in for the skill who is not paused
	QueueLength int           `yaml:"queue_length"`  // this many or more waiting (0: off)
	MaxEWT      time.Duration `yaml:"max_ewt"`       // estimated wait above this (0: off)
	MaxWait     time.Duration `yaml:"max_wait"`      // waited longer (0: off)
	Share       int           `yaml:"share_percent"` // this share of calls by contract (0–100)
	WhenClosed  bool          `yaml:"when_closed"`   // outside hours: forward instead of the closed announcement
	// Targets are federation target names, tried in order (default: all).
	Targets []string `yaml:"targets"`
	// OnFailure when every target fails: "queue" (back to its place, the
	// default) or "busy" (all-lines-busy announcement, then hang up).
	OnFailure string `yaml:"on_failure"`
}

// Defaults returns the acd defaults.
func Defaults() Config {
	return Config{CountryCode: "49", DrainTime: 30 * time.Second, DefaultHandleTime: 3 * time.Minute,
		FederationRingTimeout: 15 * time.Second, TransferRingTimeout: 30 * time.Second, RetryAfter: 30 * time.Second,
		FeatureCodes: DefaultFeatureCodes(), WrapupExtension: defaultWrapupExtension(),
		Announce: AnnounceSettings{Position: true, Wait: true, Every: time.Minute, OnlyWhenImproved: true},
		Hours:    DefaultHours(), ServiceLevel: 30 * time.Second,
		PauseReasons: map[string]string{"1": "break", "2": "meeting", "3": "training", "4": "back-office"},
		Queue: QueueSettings{Strategy: "longest-idle", RingTimeout: 20 * time.Second, Wrapup: 30 * time.Second,
			NoAnswerRest: 5 * time.Second, MaxNoAnswers: 3}}
}

// claimNumbers checks a municipality's numbers (field path f) and records
// them in numbers (E.164 → municipality key): each must be a phone number
// no other municipality has.
func (c *Config) claimNumbers(numbers map[string]string, key, f string, list []string) []error {
	var errs []error
	for j, n := range list {
		e164, ok := Normalize(n, c.CountryCode)
		nf := fmt.Sprintf("%s[%d]", f, j)
		if !ok {
			errs = append(errs, fieldErr(nf, "%q is not a phone number", n))
			continue
		}
		if other, dup := numbers[e164]; dup {
			errs = append(errs, fieldErr(nf, "%s is already routed to %s", e164, other))
		}
		numbers[e164] = key
	}
	return errs
}

func validateQueue(f string, q QueueSettings, skills map[string]bool) error {
	var errs []error
	if q.Strategy != "" && !slices.Contains(Strategies, q.Strategy) {
		errs = append(errs, fieldErr(f+".strategy", "%q is not one of %s", q.Strategy, strings.Join(Strategies, ", ")))
	}
	var last time.Duration
	for i, st := range q.Escalation {
		sf := fmt.Sprintf("%s.escalation[%d]", f, i)
		if st.After <= last {
			errs = append(errs, fieldErr(sf+".after", "steps must come later one after another"))
		}
		last = st.After
		if st.MinLevel < 0 || st.MinLevel > 10 {
			errs = append(errs, fieldErr(sf+".min_level", "%d is outside 1–10", st.MinLevel))
		}
		for j, s := range st.AddSkills {
			if !skills[s] {
				errs = append(errs, fieldErr(fmt.Sprintf("%s.add_skills[%d]", sf, j), "no municipality uses skill %q", s))
			}
		}
	}
	return errors.Join(errs...)
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
		if m.MinLevel == 0 {
			m.MinLevel = 1
		}
		if m.MinLevel < 1 || m.MinLevel > 10 {
			errs = append(errs, fieldErr(f+".min_level", "%d is outside 1–10", m.MinLevel))
		}
		if m.Priority < 0 || m.Priority > 9 {
			errs = append(errs, fieldErr(f+".priority", "%d is outside 1–9 (unset: 5)", m.Priority))
		}
		if m.Priority == 0 {
			m.Priority = 5
		}
		switch m.GreetingMode {
		case "":
			m.GreetingMode = GreetingComplete
		case GreetingComplete, GreetingInterruptible:
		default:
			errs = append(errs, fieldErr(f+".greeting_mode", "%q is neither complete nor interruptible", m.GreetingMode))
		}
		if m.ClosedPrompt == "" {
			m.ClosedPrompt = "closed.wav"
		}
		if m.Crisis.Greeting == "" {
			m.Crisis.Greeting = "crisis-greeting.wav"
		}
		if m.Crisis.Priority == 0 {
			m.Crisis.Priority = 8
		}
		if m.Hours != nil {
			if _, err := compileHours(*m.Hours, f+".hours"); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, c.claimNumbers(numbers, m.Key, f+".crisis.numbers", m.Crisis.Numbers)...)
		if m.Crisis.Hours != nil {
			if _, err := compileHours(*m.Crisis.Hours, f+".crisis.hours"); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, validateDirectory(f, m.Directory)...)
		skills[m.Skill] = true
		if len(m.Numbers) == 0 {
			errs = append(errs, fieldErr(f+".numbers", "at least one dialed number is needed"))
		}
		errs = append(errs, c.claimNumbers(numbers, m.Key, f+".numbers", m.Numbers)...)
	}
	if q := c.Tickets.Queue; q != "" {
		if keys[q] || skills[q] {
			errs = append(errs, fieldErr("acd.tickets.queue", "%q is a municipality's queue; tickets need a queue of their own", q))
		}
		skills[q] = true // agents who take tickets have this skill
	}
	errs = append(errs, c.Tickets.validate()...)
	queues := map[string]bool{}
	for s := range skills {
		queues[s] = true
	}
	for q := range c.Queues {
		queues[q] = true
	}
	for i := range c.Municipalities {
		if m := &c.Municipalities[i]; m.Menu != nil {
			errs = append(errs, validateMenu(fmt.Sprintf("acd.municipalities[%d].menu", i), m.Menu, queues, c.Callback.Enabled)...)
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
		if a.Password == "" && a.HA1 == "" && a.HA1SHA256 == "" {
			errs = append(errs, fieldErr(f+".password", "password, ha1 or ha1_sha256 must be set"))
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
	if _, err := compileHours(c.Hours, "acd.hours"); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.Callback.validate()...)
	if c.UnknownOrigin == "" {
		c.UnknownOrigin = "reject"
	} else if c.UnknownOrigin != "reject" && c.UnknownOrigin != "announce" && !keys[c.UnknownOrigin] {
		errs = append(errs, fieldErr("acd.unknown_origin", "%q: reject, announce or a municipality key", c.UnknownOrigin))
	}
	switch c.ServiceLevelFormula {
	case "":
		c.ServiceLevelFormula = "offered_minus_short"
	case "offered_minus_short", "offered":
	default:
		errs = append(errs, fieldErr("acd.service_level_formula", "%q: offered_minus_short or offered", c.ServiceLevelFormula))
	}
	if c.Queue.RingTimeout <= 0 {
		errs = append(errs, fieldErr("acd.queue.ring_timeout", "must be positive"))
	}
	if c.Queue.Wrapup < 0 {
		errs = append(errs, fieldErr("acd.queue.wrapup", "must not be negative"))
	}
	if c.Queue.MaxNoAnswers < 1 {
		errs = append(errs, fieldErr("acd.queue.max_no_answers", "must be at least 1"))
	}
	errs = append(errs, validateQueue("acd.queue", c.Queue, skills))
	seenCode := map[string]string{}
	for name, code := range map[string]string{"login": c.FeatureCodes.Login, "logout": c.FeatureCodes.Logout, "pause": c.FeatureCodes.Pause,
		"ready": c.FeatureCodes.Ready, "wrapup_extend": c.FeatureCodes.WrapupExtend} {
		if len(code) < 2 || code[0] != '*' || strings.Contains(code[1:], "*") {
			errs = append(errs, fieldErr("acd.feature_codes."+name, "%q: want * and digits, e.g. *41", code))
		} else if other, dup := seenCode[code]; dup {
			errs = append(errs, fieldErr("acd.feature_codes."+name, "%s is also %s", code, other))
		}
		seenCode[code] = name
	}
	for skill, q := range c.Queues {
		f := "acd.queues." + skill
		if !skills[skill] {
			errs = append(errs, fieldErr(f, "no municipality uses skill %q", skill))
		}
		errs = append(errs, validateQueue(f, q, skills))
	}
	if c.MaxCalls < 0 {
		errs = append(errs, fieldErr("acd.max_calls", "must not be negative (0: no limit)"))
	}
	if c.MaxCPUPercent < 0 {
		errs = append(errs, fieldErr("acd.max_cpu_percent", "must not be negative (0: off)"))
	}
	if c.MaxNewCallsPerSecond < 0 {
		errs = append(errs, fieldErr("acd.max_new_calls_per_second", "must not be negative (0: no limit)"))
	}
	if c.RetryAfter < time.Second {
		errs = append(errs, fieldErr("acd.retry_after", "must be at least 1s"))
	}
	if c.TransferRingTimeout <= 0 {
		errs = append(errs, fieldErr("acd.transfer_ring_timeout", "must be positive (default 30s)"))
	}
	if c.FederationRingTimeout <= 0 {
		errs = append(errs, fieldErr("acd.federation_ring_timeout", "must be positive (default 15s)"))
	}
	targets := map[string]bool{}
	for i, t := range c.Federation {
		if t.URI == "" || !strings.HasPrefix(t.URI, "sip:") {
			errs = append(errs, fieldErr(fmt.Sprintf("acd.federation[%d].uri", i), "%q: want a sip: URI", t.URI))
		}
		if t.Name == "" {
			errs = append(errs, fieldErr(fmt.Sprintf("acd.federation[%d].name", i), "must be set"))
		}
		targets[t.Name] = true
	}
	for i, m := range c.Municipalities {
		o := m.Overflow
		if o == nil {
			continue
		}
		f := fmt.Sprintf("acd.municipalities[%d].overflow", i)
		if len(c.Federation) == 0 {
			errs = append(errs, fieldErr(f, "overflow rules need acd.federation targets"))
		}
		for j, t := range o.Targets {
			if !targets[t] {
				errs = append(errs, fieldErr(fmt.Sprintf("%s.targets[%d]", f, j), "no federation target %q", t))
			}
		}
		if o.Share < 0 || o.Share > 100 {
			errs = append(errs, fieldErr(f+".share_percent", "%d is outside 0–100", o.Share))
		}
		switch o.OnFailure {
		case "":
			c.Municipalities[i].Overflow.OnFailure = "queue"
		case "queue", "busy":
		default:
			errs = append(errs, fieldErr(f+".on_failure", "%q: queue or busy", o.OnFailure))
		}
	}
	return errors.Join(errs...)
}
