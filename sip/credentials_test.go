package sip

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/icholy/digest"
)

// credentialSeeds are Authorization values as phones send them, and the
// malformed ones a flood brings.
var credentialSeeds = []string{
	`Digest username="1003", realm="sc115", nonce="abc.def", uri="sip:127.0.0.1:5060", response="0123456789abcdef0123456789abcdef", algorithm=MD5, cnonce="xyz", qop=auth, nc=00000001`,
	`Digest username="10\"03",realm="sc115",nonce="n",uri="sip:x",response="r",algorithm=SHA-256,qop=auth,nc=0000000a,cnonce="c",opaque="o",userhash=TRUE`,
	`digest username="a\\b"`,
	`DIGEST   username = "x" ,  nc = ff  `,
	`Digest `,
	`Digest username="unterminated`,
	`Digest username="x\`,
	`Digest username="x" realm="y"`,
	`Digest username`,
	`Digest =x`,
	`Digest nc=zz`,
	`Digest nc=+1`,
	`Digest nc=fffffffff`,
	`Digest username=x.y`,
	`Basic dXNlcjpwYXNz`,
	`Digest username="ü\ä"`,
	"Digest username=\"\xff\"",
	``,
}

func TestParseCredentialsReadsWhatPhonesSend(t *testing.T) {
	c, err := parseCredentials(credentialSeeds[0])
	if err != nil {
		t.Fatal(err)
	}
	want := digest.Credentials{Username: "1003", Realm: "sc115", Nonce: "abc.def", URI: "sip:127.0.0.1:5060",
		Response: "0123456789abcdef0123456789abcdef", Algorithm: "MD5", Cnonce: "xyz", QOP: "auth", Nc: 1}
	if *c != want {
		t.Fatalf("got %+v\nwant %+v", *c, want)
	}
	c, err = parseCredentials(credentialSeeds[1])
	if err != nil {
		t.Fatal(err)
	}
	if c.Username != `10"03` || c.Nc != 10 || !c.Userhash || c.Opaque != "o" || c.Algorithm != "SHA-256" {
		t.Fatalf("escaped quote, hex nc, userhash: got %+v", *c)
	}
	for _, bad := range []string{`Digest username="unterminated`, `Digest username="x" realm="y"`, `Digest nc=zz`, `Basic dXNlcjpwYXNz`, ``} {
		if _, err := parseCredentials(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// FuzzParseCredentialsAsTheLibrary: whatever the value, parseCredentials
// accepts it exactly when digest.ParseCredentials does and reads the same
// fields — except that the library turns bytes that are not UTF-8 into
// U+FFFD, so fields are compared only where the value is valid UTF-8.
func FuzzParseCredentialsAsTheLibrary(f *testing.F) {
	for _, s := range credentialSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gotErr := parseCredentials(s)
		want, wantErr := digest.ParseCredentials(s)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, the library's %v", s, gotErr, wantErr)
		}
		if gotErr != nil || !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
			return
		}
		if *got != *want {
			t.Fatalf("%q:\n got %+v\nwant %+v", s, *got, *want)
		}
	})
}

// BenchmarkParseCredentials against the library, on a phone's header.
func BenchmarkParseCredentials(b *testing.B) {
	b.Run("sc115", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseCredentials(credentialSeeds[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("icholy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := digest.ParseCredentials(credentialSeeds[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
