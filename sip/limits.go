package sip

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/sc115/sc115/internal/cfgerr"
)

// Limits is the sip.limits section: how much one source, one trunk and
// calls that never confirm may take (issue 12, 6). Rates are per second
// with a burst of four seconds' worth.
type Limits struct {
	// TrunkInvitesPerSecond is the rate of new INVITEs per trunk source
	// address; beyond it they get 503 with Retry-After.
	TrunkInvitesPerSecond float64 `yaml:"trunk_invites_per_second"`
	// InvitesPerSecond, RegistersPerSecond, OptionsPerSecond and
	// OthersPerSecond (BYE, ACK, …) are the rates per source address that
	// is no trunk (agents' phones); beyond them requests are dropped
	// silently, or refused 503 with OverLimit: reject.
	InvitesPerSecond   float64 `yaml:"invites_per_second"`
	RegistersPerSecond float64 `yaml:"registers_per_second"`
	OptionsPerSecond   float64 `yaml:"options_per_second"`
	OthersPerSecond    float64 `yaml:"others_per_second"`
	// OverLimit is what a source that is no trunk gets beyond its rate:
	// drop (nothing: a flood learns nothing and costs one map lookup) or
	// reject (503).
	OverLimit string `yaml:"over_limit"`
	// Exempt are CIDRs of SIP proxies in front of sc115 (a Kamailio that
	// all phones register through): not limited per source.
	Exempt []string `yaml:"exempt"`
	// MaxCallsPerTrunk bounds a trunk's concurrent calls; 0: unbounded.
	MaxCallsPerTrunk int `yaml:"max_calls_per_trunk"`
	// MaxUnconfirmedCalls bounds, per source address, the calls whose ACK
	// or first RTP packet has not come yet (an INVITE flood that never ACKs
	// holds RTP ports); beyond it that source's new calls get 503.
	MaxUnconfirmedCalls int `yaml:"max_unconfirmed_calls"`
	// AckTimeout ends an answered call whose ACK does not come (its ports
	// are free again at once, not after sipgo's 32 s).
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// MaxInFlightPerSource bounds the requests from one address that is no
	// trunk and no exempt proxy being handled at once (each holds a
	// goroutine: a ringing feature call, a digest check); beyond it they
	// are dropped, or refused 503 with over_limit: reject.
	MaxInFlightPerSource int `yaml:"max_in_flight_per_source"`
	// MaxBindingsPerUser bounds the devices one SIP user may register.
	MaxBindingsPerUser int `yaml:"max_bindings_per_user"`
	// TCPIdleTimeout closes a TCP connection that sent nothing this long.
	TCPIdleTimeout time.Duration `yaml:"tcp_idle_timeout"`
	// OptionsFromUnknown: drop (default) leaves OPTIONS from addresses that
	// are no trunk, no exempt proxy and have no registered phone
	// unanswered, so a scanner (svmap) finds nothing; answer answers them.
	OptionsFromUnknown string `yaml:"options_from_unknown"`
	// RetryAfter is the Retry-After of a 503 for a limit.
	RetryAfter time.Duration `yaml:"retry_after"`
}

// DefaultLimits are well above the load sc115 is built for (≥ 400 calls/s,
// see BENCHMARKS.md) per trunk address, and what a handful of phones
// behind one address use.
func DefaultLimits() Limits {
	return Limits{TrunkInvitesPerSecond: 1000, InvitesPerSecond: 5, RegistersPerSecond: 20, OptionsPerSecond: 20, OthersPerSecond: 100,
		OverLimit: "drop", MaxCallsPerTrunk: 6000, MaxUnconfirmedCalls: 1000, AckTimeout: 8 * time.Second,
		MaxBindingsPerUser: 10, MaxInFlightPerSource: 50, TCPIdleTimeout: 10 * time.Minute, RetryAfter: 5 * time.Second, OptionsFromUnknown: "drop"}
}

// Validate checks the section.
func (l *Limits) Validate() error {
	for name, v := range map[string]float64{"trunk_invites_per_second": l.TrunkInvitesPerSecond, "invites_per_second": l.InvitesPerSecond,
		"registers_per_second": l.RegistersPerSecond, "options_per_second": l.OptionsPerSecond, "others_per_second": l.OthersPerSecond} {
		if v <= 0 {
			return cfgerr.New("sip.limits."+name, "must be above 0, got %v", v)
		}
	}
	if l.OverLimit != "drop" && l.OverLimit != "reject" {
		return cfgerr.New("sip.limits.over_limit", "want drop or reject, got %q", l.OverLimit)
	}
	if l.OptionsFromUnknown != "drop" && l.OptionsFromUnknown != "answer" {
		return cfgerr.New("sip.limits.options_from_unknown", "want drop or answer, got %q", l.OptionsFromUnknown)
	}
	for i, c := range l.Exempt {
		if _, err := netip.ParsePrefix(c); err != nil {
			return cfgerr.New(fmt.Sprintf("sip.limits.exempt[%d]", i), "%q is not a CIDR", c)
		}
	}
	switch {
	case l.MaxCallsPerTrunk < 0:
		return cfgerr.New("sip.limits.max_calls_per_trunk", "must be ≥ 0")
	case l.MaxUnconfirmedCalls <= 0:
		return cfgerr.New("sip.limits.max_unconfirmed_calls", "must be above 0")
	case l.AckTimeout <= 0:
		return cfgerr.New("sip.limits.ack_timeout", "must be above 0")
	case l.MaxInFlightPerSource <= 0:
		return cfgerr.New("sip.limits.max_in_flight_per_source", "must be above 0")
	case l.MaxBindingsPerUser <= 0:
		return cfgerr.New("sip.limits.max_bindings_per_user", "must be above 0")
	case l.TCPIdleTimeout <= 0:
		return cfgerr.New("sip.limits.tcp_idle_timeout", "must be above 0")
	case l.RetryAfter < time.Second:
		return cfgerr.New("sip.limits.retry_after", "must be at least 1s")
	}
	return nil
}
