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
		if got, rep, err := parseReferTo([]string{in}); err != nil || got != want || rep != nil {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", "<>", "<sip:@host>", "<http://evil/>", "sip:host", "<sip:1003@host?Replaces=abc%3Bto-tag%3Dx>", "<sip:1003@host?Replaces=abc>",
		"<sip:1003@host?Subject=hi>", "<sip:1003@host?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2&Replaces=b%3Bto-tag%3D1%3Bfrom-tag%3D2>",
		"<sip:1003@host?Replaces=a%0d%0aVia%3Bto-tag%3D1%3Bfrom-tag%3D2>", "<sip:1003@host?Replaces=a%3Bto-tag%3D%3Bfrom-tag%3D2>",
		"<sip:1003@host?Replaces=%zz>",
		"<sip:a%0d%0aVia:x@host>", "<sip:" + strings.Repeat("1", 65) + "@h>", "<sip:%zz@h>", "<sip:1003@host",
		"<sip:a b@host>", "<sip::x@h>", "<sip:a:b:c@h>",
	}
	for _, in := range bad {
		if got, _, err := parseReferTo([]string{in}); err == nil {
			t.Errorf("%q: accepted as %q", in, got)
		}
	}
	if _, _, err := parseReferTo(nil); err == nil {
		t.Error("no Refer-To accepted")
	}
	if _, _, err := parseReferTo([]string{"<sip:1@h>", "<sip:2@h>"}); err == nil {
		t.Error("two Refer-To accepted")
	}
}

// TestParseReferToWithReplaces: an attended transfer's Refer-To names the
// consultation dialog in an embedded Replaces, %-encoded as phones send it.
func TestParseReferToWithReplaces(t *testing.T) {
	cases := map[string]replacesID{
		"<sip:+4951361890@sc115?Replaces=a84b4c76e66710%40pc33%3Bto-tag%3D1928301774%3Bfrom-tag%3Dxyz>": {"a84b4c76e66710@pc33", "1928301774", "xyz"},
		"<sip:1003@127.0.0.1?replaces=abc%3Bfrom-tag%3D2%3Bto-tag%3D1%3Bearly-only>":                    {"abc", "1", "2"},
		"<sip:1003@127.0.0.1?Replaces=abc;to-tag=1;from-tag=2>":                                         {"abc", "1", "2"},
	}
	for in, want := range cases {
		target, rep, err := parseReferTo([]string{in})
		if err != nil || rep == nil || *rep != want {
			t.Errorf("%q: %q %+v %v, want %+v", in, target, rep, err, want)
		}
	}
}

// FuzzParseReferTo: any Refer-To is a target of the allowed characters
// (nothing that could inject a header or a second URI) or an error; nothing
// panics.
func FuzzParseReferTo(f *testing.F) {
	for _, s := range []string{"<sip:+4951361890@sc115>", "<sip:%231@h>", "sip:agent:1003@h", "<tel:0511>", "<sip:1@h?Replaces=x>",
		"<sip:1@h?Replaces=a%40b%3Bto-tag%3D1%3Bfrom-tag%3D2>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, rep, err := parseReferTo([]string{v})
		if err != nil {
			return
		}
		if got == "" || len(got) > maxReferTarget || strings.ContainsAny(got, "\r\n <>@;?\"") {
			t.Fatalf("%q → target %q", v, got)
		}
		if rep != nil && (rep.callID == "" || rep.toTag == "" || rep.fromTag == "" ||
			strings.ContainsAny(rep.callID+rep.toTag+rep.fromTag, "\r\n ;=&") || len(rep.callID) > maxReplacesCallID) {
			t.Fatalf("%q → Replaces %+v", v, *rep)
		}
	})
}
