package sip

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func rawOptions(cl, body, extra string) string {
	return "OPTIONS sip:115@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bKx\r\nMax-Forwards: 70\r\n" +
		"f: <sip:a@127.0.0.9>;tag=1\r\nTo: <sip:115@127.0.0.1>\r\ni: c1\r\nCSeq: 7 OPTIONS\r\n" + extra + "Content-Length: " + cl + "\r\n\r\n" + body
}

// TestScreenDatagram: each repair and each refusal, and the answer carries
// the request's own headers (compact forms too).
func TestScreenDatagram(t *testing.T) {
	good := rawOptions("0", "", "")
	if pass, reply, why := screenDatagram([]byte(good)); string(pass) != good || reply != nil || why != "" {
		t.Errorf("a good request: %q %q %q", pass, reply, why)
	}
	pass, _, _ := screenDatagram([]byte(strings.ReplaceAll(good, "\r\n", "\n")))
	if string(pass) != good {
		t.Errorf("LF-only not repaired:\n%q", pass)
	}
	pass, _, _ = screenDatagram([]byte(rawOptions("3", "abcdef", "")))
	if !bytes.HasSuffix(pass, []byte("\r\n\r\nabc")) {
		t.Errorf("bytes beyond Content-Length not cut: %q", pass)
	}
	for _, c := range []struct{ cl, body, extra, want string }{
		{"abc", "", "", "SIP/2.0 400 Bad Content-Length"},
		{"-1", "", "", "SIP/2.0 400 Bad Content-Length"},
		{"+1", "x", "", "SIP/2.0 400 Bad Content-Length"},
		{"", "", "", "SIP/2.0 400 Bad Content-Length"},
		{strings.Repeat("9", 20), "", "", "SIP/2.0 400 Bad Content-Length"},
		{"10", "short", "", "SIP/2.0 400 Content-Length Larger Than Body"},
		{"0", "", "X-Big: " + strings.Repeat("b", maxHeaderBytes) + "\r\n", "SIP/2.0 513 Message Too Large"},
	} {
		pass, reply, why := screenDatagram([]byte(rawOptions(c.cl, c.body, c.extra)))
		if pass != nil || why == "" || !strings.HasPrefix(string(reply), c.want+"\r\n") {
			t.Errorf("Content-Length %q: pass %v, why %q, reply %q", c.cl, pass != nil, why, reply)
			continue
		}
		for _, h := range []string{"Via: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bKx", "f: <sip:a@127.0.0.9>;tag=1", "i: c1", "CSeq: 7 OPTIONS", "Content-Length: 0"} {
			if !strings.Contains(string(reply), h+"\r\n") {
				t.Errorf("answer lacks %q:\n%s", h, reply)
			}
		}
	}
	// A broken ACK is dropped unanswered; so is a request without Via.
	if _, reply, _ := screenDatagram([]byte(strings.Replace(rawOptions("abc", "", ""), "OPTIONS sip", "ACK sip", 1))); reply != nil {
		t.Error("a broken ACK was answered")
	}
	if _, reply, _ := screenDatagram([]byte(strings.Replace(rawOptions("abc", "", ""), "Via:", "X-Via:", 1))); reply != nil {
		t.Error("a request without Via was answered")
	}
	if pass, _, _ := screenDatagram([]byte("SIP/2.0 200 OK\r\nContent-Length: abc\r\n\r\n")); pass == nil {
		t.Error("a response was screened")
	}
	// A REFER whose Refer-To sipgo could not parse gets 400 here (sipgo
	// would drop it unanswered); a usable or unknown one passes to the
	// handler, which answers it.
	refer := func(v string) []byte {
		return []byte(strings.Replace(strings.Replace(rawOptions("0", "", "Refer-To: "+v+"\r\n"), "OPTIONS sip", "REFER sip", 1), "7 OPTIONS", "7 REFER", 1))
	}
	if pass, reply, _ := screenDatagram(refer("this is no uri")); pass != nil || !strings.HasPrefix(string(reply), "SIP/2.0 400 Bad Refer-To\r\n") {
		t.Errorf("REFER with a broken Refer-To: pass %v, reply %q", pass != nil, reply)
	}
	for _, v := range []string{"<sip:%231@127.0.0.1>", "<sip:nobody@127.0.0.1>", "<sip:1@h?Replaces=x>"} {
		if pass, reply, _ := screenDatagram(refer(v)); pass == nil || reply != nil {
			t.Errorf("REFER to %s was screened out: %q", v, reply)
		}
	}
}

// FuzzScreenDatagram: no input panics; a refusal passes nothing; what
// passes has a blank line and, with a Content-Length, exactly that body.
func FuzzScreenDatagram(f *testing.F) {
	f.Add([]byte(rawOptions("0", "", "")))
	f.Add([]byte(rawOptions("5", "hello world", "")))
	f.Add([]byte(strings.ReplaceAll(rawOptions("abc", "", ""), "\r\n", "\n")))
	f.Add([]byte("INVITE x SIP/2.0\n\n"))
	f.Add([]byte(strings.Replace(rawOptions("0", "", "Refer-To: <sip:%231@127.0.0.1>\r\n"), "OPTIONS sip", "REFER sip", 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		pass, reply, why := screenDatagram(b)
		if reply != nil && pass != nil {
			t.Fatal("answered and passed")
		}
		if why != "" && pass != nil {
			t.Fatal("refused and passed")
		}
		if pass == nil || bytes.HasPrefix(b, []byte("SIP/")) || len(bytes.Trim(b, "\r\n")) == 0 || bytes.Equal(pass, b) {
			return
		}
		head, body, ok := bytes.Cut(pass, []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("repaired message without blank line: %q", pass)
		}
		for _, l := range bytes.Split(head, []byte("\r\n"))[1:] { // after the start line
			name, v, ok := bytes.Cut(l, []byte(":"))
			if n := strings.ToLower(strings.TrimSpace(string(name))); ok && (n == "content-length" || n == "l") {
				if want, _ := strconv.Atoi(strings.TrimSpace(string(v))); want != len(body) {
					t.Fatalf("Content-Length %d, body %d", want, len(body))
				}
			}
		}
	})
}
