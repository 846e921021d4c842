package sip

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sc115/sc115/internal/cfgerr"
)

// Config is the sip section of the sc115 configuration.
type Config struct {
	// Listen is the host:port for UDP and TCP; the --sip-listen flag overrides it.
	Listen string `yaml:"listen"`
	// Realm is the digest realm agents authenticate in.
	Realm string `yaml:"realm"`
	// Trunks are the peers allowed to send calls in.
	Trunks []Trunk `yaml:"trunks"`
	// CalledNumberFrom lists where the dialed number is taken from, in order:
	// request_uri, to, p_called_party_id.
	CalledNumberFrom []string `yaml:"called_number_from"`
	// NonceTTL is how long a digest nonce is accepted.
	NonceTTL time.Duration `yaml:"nonce_ttl"`
	// MinExpires and MaxExpires bound REGISTER expiry.
	MinExpires time.Duration `yaml:"min_expires"`
	MaxExpires time.Duration `yaml:"max_expires"`
	// NonceKey signs nonces; empty means a random key per start.
	NonceKey string `yaml:"nonce_key"`
	// DigestAlgorithms are offered in this order: MD5 and/or SHA-256
	// (RFC 8760). Default MD5 only: some phones (baresip 1.0, sipp 3.6)
	// refuse a REGISTER challenge that offers any algorithm they lack.
	DigestAlgorithms []string `yaml:"digest_algorithms"`
	// LockoutFailures failed digest attempts for one user from one source
	// IP within LockoutWindow lock that source out for that user (403) for
	// LockoutTime; the user keeps working from everywhere else. 0 disables
	// all lockouts.
	LockoutFailures int           `yaml:"lockout_failures"`
	LockoutWindow   time.Duration `yaml:"lockout_window"`
	LockoutTime     time.Duration `yaml:"lockout_time"`
	// LockoutSourceFailures failed attempts from one source IP for any
	// users within LockoutWindow lock that source out for LockoutTime,
	// except for users it has logged in before. 0 disables.
	LockoutSourceFailures int `yaml:"lockout_source_failures"`
	// LockoutDailyFailures failed attempts for one user within 24 hours,
	// from any sources (slow guessing), raise an alert and admit only
	// sources that logged the user in before, until one of them does
	// again. 0 disables.
	LockoutDailyFailures int `yaml:"lockout_daily_failures"`
	// Limits bound what one source, one trunk and unconfirmed calls take.
	Limits Limits `yaml:"limits"`
	// TLS is SIP over TLS; off unless tls.listen is set.
	TLS TLSConfig `yaml:"tls"`
}

// Trunk is a PBX or 115 platform allowed to forward calls.
type Trunk struct {
	Name  string   `yaml:"name"`
	Allow []string `yaml:"allow"` // source CIDRs
	// RequireTLS refuses (403) this trunk's INVITEs that do not come over
	// SIP over TLS (sip.tls), and (488) those whose offer has no usable
	// SDES a=crypto: its calls are SRTP end to end of the leg.
	RequireTLS bool `yaml:"require_tls"`
	// Outbound is where calls out through this trunk go (an agent's
	// transfer to a municipal office): a SIP URI with {number} for the
	// digits dialed, e.g. "sip:{number}@10.0.0.1:5060"; empty: none.
	Outbound string `yaml:"outbound"`
	// PresentNumber is the calling number such a call shows: "service"
	// (the 115 number the caller dialed; the default) or "caller" (the
	// caller's own — anonymous with Privacy: id when withheld, CLIR).
	PresentNumber string `yaml:"present_number"`
}

// Defaults returns the sip defaults.
func Defaults() Config {
	return Config{Listen: "127.0.0.1:5060", Realm: "sc115", CalledNumberFrom: []string{"request_uri", "to", "p_called_party_id"},
		NonceTTL: 5 * time.Minute, MinExpires: 60 * time.Second, MaxExpires: time.Hour,
		LockoutFailures: 5, LockoutSourceFailures: 20, LockoutDailyFailures: 20, LockoutWindow: time.Minute, LockoutTime: 5 * time.Minute,
		DigestAlgorithms: []string{"MD5"}, Limits: DefaultLimits()}
}

// Validate checks the section.
func (c *Config) Validate() error {
	if _, err := netip.ParseAddrPort(c.Listen); err != nil {
		return cfgerr.New("sip.listen", "want IP:port, got %q", c.Listen)
	}
	if c.Realm == "" {
		return cfgerr.New("sip.realm", "must be set")
	}
	if len(c.Trunks) == 0 {
		return cfgerr.New("sip.trunks", "at least one trunk is needed")
	}
	for i, t := range c.Trunks {
		if len(t.Allow) == 0 {
			return cfgerr.New(fmt.Sprintf("sip.trunks[%d].allow", i), "at least one CIDR is needed")
		}
		for j, a := range t.Allow {
			if _, err := netip.ParsePrefix(a); err != nil {
				return cfgerr.New(fmt.Sprintf("sip.trunks[%d].allow[%d]", i, j), "%q is not a CIDR", a)
			}
		}
	}
	for i, t := range c.Trunks {
		if t.Outbound != "" {
			var u sip.Uri
			if !strings.Contains(t.Outbound, "{number}") || sip.ParseUri(strings.ReplaceAll(t.Outbound, "{number}", "0"), &u) != nil || u.Host == "" {
				return cfgerr.New(fmt.Sprintf("sip.trunks[%d].outbound", i), "%q: want a SIP URI with {number}, e.g. sip:{number}@10.0.0.1:5060", t.Outbound)
			}
		}
		switch t.PresentNumber {
		case "", "service", "caller":
		default:
			return cfgerr.New(fmt.Sprintf("sip.trunks[%d].present_number", i), "%q: service or caller", t.PresentNumber)
		}
		if t.RequireTLS && c.TLS.Listen == "" {
			return cfgerr.New(fmt.Sprintf("sip.trunks[%d].require_tls", i), "needs sip.tls.listen")
		}
	}
	for i, s := range c.CalledNumberFrom {
		switch s {
		case "request_uri", "to", "p_called_party_id":
		default:
			return cfgerr.New(fmt.Sprintf("sip.called_number_from[%d]", i), "%q is not one of request_uri, to, p_called_party_id", s)
		}
	}
	if len(c.DigestAlgorithms) == 0 {
		return cfgerr.New("sip.digest_algorithms", "offer at least one of MD5, SHA-256")
	}
	for i, a := range c.DigestAlgorithms {
		if a != "MD5" && a != "SHA-256" {
			return cfgerr.New(fmt.Sprintf("sip.digest_algorithms[%d]", i), "%q is not MD5 or SHA-256", a)
		}
	}
	if err := c.Limits.Validate(); err != nil {
		return err
	}
	if err := c.TLS.Validate(); err != nil {
		return err
	}
	if c.MinExpires <= 0 || c.MaxExpires < c.MinExpires {
		return cfgerr.New("sip.min_expires", "need 0 < min_expires ≤ max_expires")
	}
	return nil
}
