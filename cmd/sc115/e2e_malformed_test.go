package main

import (
	"fmt"
	"net"
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
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	target := net.UDPAddrFromAddrPort(s.sip.Addr())
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
