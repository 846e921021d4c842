package sip

import (
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestClientIPBehindAProxy: the lockout counts the phone's own address
// only when the request comes from a proxy in front; a Via from anyone
// else is not believed.
func TestClientIPBehindAProxy(t *testing.T) {
	proxy := netip.MustParsePrefix("10.0.0.3/32")
	r := &registrar{viaProxy: func(a netip.Addr) bool { return proxy.Contains(a) }}
	msg := func(src string, vias ...string) *sip.Request {
		raw := "REGISTER sip:sc115 SIP/2.0\r\n"
		for _, v := range vias {
			raw += "Via: " + v + "\r\n"
		}
		raw += "From: <sip:1003@sc115>;tag=a\r\nTo: <sip:1003@sc115>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"
		m, err := sip.ParseMessage([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*sip.Request)
		req.SetSource(src)
		return req
	}
	cases := []struct {
		name string
		req  *sip.Request
		want string
	}{
		{"phone straight to sc115", msg("192.0.2.7:5060", "SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1"), "192.0.2.7"},
		{"a forged Via stack, not from the proxy", msg("192.0.2.7:5060", "SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1", "SIP/2.0/UDP 198.51.100.1;received=198.51.100.1;branch=z9hG4bK2"), "192.0.2.7"},
		{"through the proxy: the received it set", msg("10.0.0.3:5060", "SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK1", "SIP/2.0/UDP 172.16.0.9:5062;received=203.0.113.5;rport=40000;branch=z9hG4bK2"), "203.0.113.5"},
		{"through the proxy, no received: the Via host", msg("10.0.0.3:5060", "SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK1", "SIP/2.0/UDP 203.0.113.6:5062;branch=z9hG4bK2"), "203.0.113.6"},
		{"from the proxy itself (its OPTIONS)", msg("10.0.0.3:5060", "SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK1"), "10.0.0.3"},
	}
	for _, c := range cases {
		if got := r.clientIP(c.req); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
