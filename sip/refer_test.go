package sip

import (
	"strings"
	"testing"
)

// TestParseReferTo: what a phone puts in Refer-To becomes the target it
// dialed; anything else is refused (400 on the REFER).
func TestParseReferTo(t *testing.T) {
	ok := map[string]string{
		"<sip:+4951361890@sc115.example>":            "+4951361890",
		"<sip:1003@127.0.0.1:5060;transport=udp>":    "1003",
		"sip:buergerbuero@127.0.0.1":                 "buergerbuero",
		"<sip:%231@127.0.0.1>":                       "#1",
		"\"Office\" <sip:05136189-0@pbx;user=phone>": "05136189-0",
		"<sip:agent:1003@127.0.0.1>":                 "agent:1003",
		"<tel:+4951361890;phone-context=+49>":        "+4951361890",
		"<sips:queue-hannover@sc115>":                "queue-hannover",
		"<sip:0511;x=1@host>":                        "0511",
		"sip:115@sc115;method=INVITE":                "115",
	}
	for in, want := range ok {
		if got, err := parseReferTo([]string{in}); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", "<>", "<sip:@host>", "<http://evil/>", "sip:host", "<sip:1003@host?Replaces=abc%3Bto-tag%3Dx>",
		"<sip:a%0d%0aVia:x@host>", "<sip:" + strings.Repeat("1", 65) + "@h>", "<sip:%zz@h>", "<sip:1003@host",
		"<sip:a b@host>", "<sip::x@h>", "<sip:a:b:c@h>",
	}
	for _, in := range bad {
		if got, err := parseReferTo([]string{in}); err == nil {
			t.Errorf("%q: accepted as %q", in, got)
		}
	}
	if _, err := parseReferTo(nil); err == nil {
		t.Error("no Refer-To accepted")
	}
	if _, err := parseReferTo([]string{"<sip:1@h>", "<sip:2@h>"}); err == nil {
		t.Error("two Refer-To accepted")
	}
}

// FuzzParseReferTo: any Refer-To is a target of the allowed characters
// (nothing that could inject a header or a second URI) or an error; nothing
// panics.
func FuzzParseReferTo(f *testing.F) {
	for _, s := range []string{"<sip:+4951361890@sc115>", "<sip:%231@h>", "sip:agent:1003@h", "<tel:0511>", "<sip:1@h?Replaces=x>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseReferTo([]string{v})
		if err != nil {
			return
		}
		if got == "" || len(got) > maxReferTarget || strings.ContainsAny(got, "\r\n <>@;?\"") {
			t.Fatalf("%q → target %q", v, got)
		}
	})
}
