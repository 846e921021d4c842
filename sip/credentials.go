package sip

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/icholy/digest"
)

// parseCredentials reads the value of a Digest Authorization header into
// the icholy/digest Credentials the rest of the registrar checks. It
// accepts exactly what digest.ParseCredentials accepts and gives the same
// fields (FuzzParseCredentialsAsTheLibrary holds the two together), but in
// one pass over the string: the library reads it through a bufio.Reader
// (a 4 KB buffer per call) and copies quoted values rune by rune, which
// was a third of the registrar's work for an authenticated REGISTER and
// most of its garbage. Here a value without escapes is a substring of the
// header. The one difference: bytes that are not UTF-8 inside a quoted
// value stay as they came, where the library turns each into U+FFFD; such
// a value matches no configured user and no response anyway.
func parseCredentials(s string) (*digest.Credentials, error) {
	s, ok := digest.CutPrefix(s)
	if !ok {
		return nil, errors.New("digest: invalid credentials prefix")
	}
	var c digest.Credentials
	p := paramScanner{s: s}
	for first := true; ; first = false {
		p.skipSpaces()
		if p.i == len(p.s) {
			return &c, nil
		}
		key, value, err := p.param(first)
		if err != nil {
			return nil, err
		}
		switch key {
		case "username":
			c.Username = value
		case "realm":
			c.Realm = value
		case "nonce":
			c.Nonce = value
		case "uri":
			c.URI = value
		case "response":
			c.Response = value
		case "algorithm":
			c.Algorithm = value
		case "cnonce":
			c.Cnonce = value
		case "opaque":
			c.Opaque = value
		case "qop":
			c.QOP = value
		case "nc":
			nc, err := strconv.ParseInt(value, 16, 32)
			if err != nil {
				return nil, errors.New("digest: invalid nc: " + err.Error())
			}
			c.Nc = int(nc)
		case "userhash":
			c.Userhash = strings.EqualFold(value, "true")
		}
	}
}

// paramScanner walks a comma-separated list of key=value parameters, with
// the library's grammar: spaces (only) around each part, keys and bare
// values of letters, digits and '-', quoted values with backslash escapes.
type paramScanner struct {
	s string
	i int
}

func (p *paramScanner) skipSpaces() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// param reads one parameter; all but the first follow a comma.
func (p *paramScanner) param(first bool) (key, value string, err error) {
	if !first {
		if err := p.expect(','); err != nil {
			return "", "", err
		}
		p.skipSpaces()
	}
	key = p.ident()
	p.skipSpaces()
	if err := p.expect('='); err != nil {
		return "", "", err
	}
	p.skipSpaces()
	if p.i < len(p.s) && p.s[p.i] == '"' {
		value, err = p.quoted()
		return key, value, err
	}
	return key, p.ident(), nil
}

func (p *paramScanner) expect(b byte) error {
	if p.i == len(p.s) {
		return errors.New("digest: invalid credentials: param: expected '" + string(b) + "', got EOF")
	}
	if p.s[p.i] != b {
		return errors.New("digest: invalid credentials: param: expected '" + string(b) + "', got " + strconv.QuoteRune(rune(p.s[p.i])))
	}
	p.i++
	return nil
}

func (p *paramScanner) ident() string {
	start := p.i
	for p.i < len(p.s) && isIdentByte(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func isIdentByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-'
}

// quoted reads a quoted value from its opening quote. Without escapes it
// is the substring between the quotes; a backslash takes the next
// character as it is.
func (p *paramScanner) quoted() (string, error) {
	p.i++ // the opening quote
	start := p.i
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '"':
			v := p.s[start:p.i]
			p.i++
			return v, nil
		case '\\':
			return p.unescape(start)
		}
		p.i++
	}
	return "", errUnterminated
}

// unescape finishes a quoted value that has a backslash at p.i.
func (p *paramScanner) unescape(start int) (string, error) {
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\':
			p.i++
			if p.i == len(p.s) {
				return "", errUnterminated
			}
			// The escaped character is a whole UTF-8 sequence, as the
			// library reads it rune by rune.
			_, n := utf8.DecodeRuneInString(p.s[p.i:])
			b.WriteString(p.s[p.i : p.i+n])
			p.i += n
		case c == '"':
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", errUnterminated
}

var errUnterminated = errors.New("digest: invalid credentials: param: unexpected EOF")
