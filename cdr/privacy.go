package cdr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Privacy applies the configured caller-number policy. It is used for CDRs
// and for logs alike, so a number never appears in full unless configured.
type Privacy struct {
	policy string
	key    []byte
}

// NewPrivacy builds the policy from a validated config.
func NewPrivacy(c Config) Privacy { return Privacy{policy: c.CallerPolicy, key: []byte(c.HashKey)} }

// Kind says how Caller stores a number: withheld, shortened, hashed or full.
func (p Privacy) Kind(withheld bool) string {
	switch {
	case withheld:
		return "withheld"
	case p.policy == "full":
		return "full"
	case p.policy == "hash":
		return "hashed"
	default:
		return "shortened"
	}
}

// Caller returns the number as it may be stored. A withheld number (CLIR,
// Privacy: id) is never stored: the result is "anonymous".
func (p Privacy) Caller(number string, withheld bool) string {
	if withheld {
		return "anonymous"
	}
	if number == "" {
		return ""
	}
	switch p.policy {
	case "full":
		return number
	case "hash":
		m := hmac.New(sha256.New, p.key)
		m.Write([]byte(number))
		return "h:" + hex.EncodeToString(m.Sum(nil))[:24]
	default:
		return shorten(number)
	}
}

// shorten replaces the last three digits by x: +495136123456 → +495136123xxx.
func shorten(n string) string {
	b := []byte(n)
	left := 3
	for i := len(b) - 1; i >= 0 && left > 0; i-- {
		if b[i] >= '0' && b[i] <= '9' {
			b[i] = 'x'
			left--
		}
	}
	return string(b)
}
