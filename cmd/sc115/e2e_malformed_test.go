package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestMalformedRequestsGetAnAnswer (issue 12, 7): a request in another
// SIP version gets 505, one missing a mandatory header 400 naming it —
// they used to be answered 200 as if nothing were wrong. A well-formed
// OPTIONS still gets 200.
func TestMalformedRequestsGetAnAnswer(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	probe := newRawPeer(t, "127.0.0.1", s.sip.Addr().String())
	conn, target := probe.conn, probe.target
	headers := func(branch string) []string {
		return []string{
			"Via: SIP/2.0/UDP " + conn.LocalAddr().String() + ";branch=z9hG4bK" + branch,
			"Max-Forwards: 70",
			"From: <sip:probe@127.0.0.1>;tag=1",
			"To: <sip:115@127.0.0.1>",
			"Call-ID: " + branch + "@127.0.0.1",
			"CSeq: 1 OPTIONS",
		}
	}
	without := func(hs []string, name string) []string {
		var out []string
		for _, h := range hs {
			if !strings.HasPrefix(h, name+":") {
				out = append(out, h)
			}
		}
		return out
	}
	cases := []struct {
		name, version string
		headers       []string
		want          string
	}{
		{"well-formed", "SIP/2.0", headers("ok1"), "SIP/2.0 200"},
		{"SIP/7.0", "SIP/7.0", headers("v7"), "SIP/2.0 505"},
		{"no Max-Forwards", "SIP/2.0", without(headers("mf1"), "Max-Forwards"), "SIP/2.0 400 Missing Max-Forwards"},
		{"no From", "SIP/2.0", without(headers("fr1"), "From"), "SIP/2.0 400 Missing From"},
		{"no To", "SIP/2.0", without(headers("to1"), "To"), "SIP/2.0 400 Missing To"},
	}
	buf := make([]byte, 4096)
	for _, c := range cases {
		msg := fmt.Sprintf("OPTIONS sip:115@%s %s\r\n%s\r\nContent-Length: 0\r\n\r\n", s.sip.Addr(), c.version, strings.Join(c.headers, "\r\n"))
		if _, err := conn.WriteToUDP([]byte(msg), target); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Errorf("%s: no answer (%v)", c.name, err)
			continue
		}
		if line, _, _ := strings.Cut(string(buf[:n]), "\r\n"); !strings.HasPrefix(line, c.want) {
			t.Errorf("%s: answered %q, want %q", c.name, line, c.want)
		}
	}
}

// TestBrokenFramingGetsAnAnswer (issue 12, 7): what sipgo's parser used to
// swallow without a word — a Content-Length of abc, -1, 20 digits or more
// than the body, a 60 KB header — is answered 400 or 513 with the
// request's own Via, Call-ID and CSeq; LF-only line ends are accepted; a
// valid request after all of them is still answered.
func TestBrokenFramingGetsAnAnswer(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	probe := newRawPeer(t, "127.0.0.1", s.sip.Addr().String())
	conn, target := probe.conn, probe.target
	options := func(id, contentLength, body, extra string) string {
		return fmt.Sprintf("OPTIONS sip:115@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:115@127.0.0.1>\r\nCall-ID: %s@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n%sContent-Length: %s\r\n\r\n%s",
			s.sip.Addr(), conn.LocalAddr(), id, id, extra, contentLength, body)
	}
	cases := []struct {
		name, msg, want string
	}{
		{"Content-Length abc", options("cla", "abc", "", ""), "SIP/2.0 400 Bad Content-Length"},
		{"Content-Length -1", options("clm", "-1", "", ""), "SIP/2.0 400 Bad Content-Length"},
		{"Content-Length of 20 digits", options("cl20", "12345678901234567890", "", ""), "SIP/2.0 400 Bad Content-Length"},
		{"Content-Length above the body", options("clbig", "100", "v=0\r\n", "Content-Type: application/sdp\r\n"), "SIP/2.0 400 Content-Length Larger Than Body"},
		{"60 KB header", options("huge", "0", "", "X-Junk: "+strings.Repeat("a", 60<<10)+"\r\n"), "SIP/2.0 513"},
		{"LF-only line ends", strings.ReplaceAll(options("lf", "0", "", ""), "\r\n", "\n"), "SIP/2.0 200"},
		{"a valid one after all that", options("ok2", "0", "", ""), "SIP/2.0 200"},
	}
	buf := make([]byte, 8192)
	for _, c := range cases {
		if _, err := conn.WriteToUDP([]byte(c.msg), target); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Errorf("%s: no answer (%v)", c.name, err)
			continue
		}
		ans := string(buf[:n])
		line, _, _ := strings.Cut(ans, "\r\n")
		if !strings.HasPrefix(line, c.want) {
			t.Errorf("%s: answered %q, want %q", c.name, line, c.want)
		}
		if !strings.Contains(ans, "CSeq: 1 OPTIONS") || !strings.Contains(ans, "Call-ID: ") {
			t.Errorf("%s: the answer lacks the request's CSeq or Call-ID:\n%s", c.name, ans)
		}
	}
}
