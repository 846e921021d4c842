package web

import (
	"fmt"
	"regexp"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/cfgerr"
)

// Config is the web section: who may sign in, and how long.
type Config struct {
	// Users who may sign in to the pages and use the API.
	Users []User `yaml:"users"`
	// SessionTTL: a session ends this long after sign-in (default 12 h,
	// a shift and a half).
	SessionTTL time.Duration `yaml:"session_ttl"`
	// LoginAttempts wrong passwords for one user from one address lock
	// that pair out for LoginLockout (default 5 and 15 min). The same user
	// from another address (the real one, at their desk) is not locked.
	LoginAttempts int           `yaml:"login_attempts"`
	LoginLockout  time.Duration `yaml:"login_lockout"`
}

// User is one person (or program) with roles.
type User struct {
	Name string `yaml:"name"`
	// PasswordHash is a bcrypt hash ("$2a$…", from `sc115 hash-password`);
	// empty: no browser sign-in (a token-only user).
	PasswordHash string `yaml:"password_hash"`
	// Roles: agent, supervisor, billing, admin.
	Roles []string `yaml:"roles"`
	// Agent is the agent id an agent-role user is (acd.agents[].id).
	Agent string `yaml:"agent"`
	// TokenHash, if set, lets a program use the API as this user with
	// "Authorization: Bearer <token>": "sha256:<hex of the token's
	// SHA-256>" (from `sc115 new-token`).
	TokenHash string `yaml:"token_hash"`
}

// Defaults are the section's defaults.
func Defaults() Config {
	return Config{SessionTTL: 12 * time.Hour, LoginAttempts: 5, LoginLockout: 15 * time.Minute}
}

var (
	userName  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	tokenHash = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	roles     = map[string]bool{acd.RoleAgent: true, acd.RoleSupervisor: true, acd.RoleBilling: true, acd.RoleAdmin: true}
)

// Validate checks the section; agents are the configured agent ids (an
// agent-role user must be one of them).
func (c *Config) Validate(agents map[string]bool) []error {
	var errs []error
	if c.SessionTTL < time.Minute {
		errs = append(errs, cfgerr.New("web.session_ttl", "%v is too short (at least 1m)", c.SessionTTL))
	}
	if c.LoginAttempts < 1 {
		errs = append(errs, cfgerr.New("web.login_attempts", "must be at least 1"))
	}
	if c.LoginLockout <= 0 {
		errs = append(errs, cfgerr.New("web.login_lockout", "must be positive"))
	}
	seen := map[string]bool{}
	tokens := map[string]string{}
	for i, u := range c.Users {
		f := fmt.Sprintf("web.users[%d]", i)
		if !userName.MatchString(u.Name) {
			errs = append(errs, cfgerr.New(f+".name", "%q: lower-case letters, digits, . _ - (up to 64)", u.Name))
		} else if seen[u.Name] {
			errs = append(errs, cfgerr.New(f+".name", "%q is there twice", u.Name))
		}
		seen[u.Name] = true
		if u.PasswordHash != "" {
			if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
				errs = append(errs, cfgerr.New(f+".password_hash", "is no bcrypt hash (make one with `sc115 hash-password`): %v", err))
			}
		}
		if u.TokenHash != "" {
			if !tokenHash.MatchString(u.TokenHash) {
				errs = append(errs, cfgerr.New(f+".token_hash", "want sha256:<64 hex digits> (from `sc115 new-token`)"))
			} else if other, dup := tokens[u.TokenHash]; dup {
				errs = append(errs, cfgerr.New(f+".token_hash", "is %s's token too", other))
			}
			tokens[u.TokenHash] = u.Name
		}
		if u.PasswordHash == "" && u.TokenHash == "" {
			errs = append(errs, cfgerr.New(f, "needs password_hash or token_hash: it could never sign in"))
		}
		if len(u.Roles) == 0 {
			errs = append(errs, cfgerr.New(f+".roles", "none: give agent, supervisor, billing or admin"))
		}
		for j, r := range u.Roles {
			if !roles[r] {
				errs = append(errs, cfgerr.New(fmt.Sprintf("%s.roles[%d]", f, j), "%q is not agent, supervisor, billing or admin", r))
			}
		}
		hasAgentRole := false
		for _, r := range u.Roles {
			hasAgentRole = hasAgentRole || r == acd.RoleAgent
		}
		switch {
		case hasAgentRole && u.Agent == "":
			errs = append(errs, cfgerr.New(f+".agent", "an agent-role user needs its agent id"))
		case u.Agent != "" && !agents[u.Agent]:
			errs = append(errs, cfgerr.New(f+".agent", "%q is no agent in acd.agents", u.Agent))
		}
	}
	return errs
}

// has says whether the user has role (an admin has every role).
func (u *User) has(role string) bool {
	for _, r := range u.Roles {
		if r == role || r == acd.RoleAdmin {
			return true
		}
	}
	return false
}

// startPage is where the user lands after signing in: a supervisor (or
// admin) at the supervisor view, an agent at its console, the billing
// office at its downloads.
func (u *User) startPage() string {
	switch {
	case u.has(acd.RoleSupervisor):
		return "/supervisor"
	case u.has(acd.RoleAgent):
		return "/agent"
	case u.has(acd.RoleBilling):
		return "/billing"
	}
	return "/"
}
