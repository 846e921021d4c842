package sip

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func testAdmission(t testing.TB, edit func(*Limits)) (*admission, *time.Time) {
	t.Helper()
	lim := DefaultLimits()
	lim.Exempt = []string{"10.9.0.0/16"}
	if edit != nil {
		edit(&lim)
	}
	if err := lim.Validate(); err != nil {
		t.Fatal(err)
	}
	a := newAdmission(lim, []Trunk{{Name: "pbx", Allow: []string{"192.0.2.0/24"}}}, newMetrics(nil))
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	return a, &now
}

func datagram(method string) []byte {
	return []byte(method + " sip:sc115@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n\r\n")
}

func props(ip string) sip.TransportReadProps {
	return sip.TransportReadProps{Transport: "UDP", RemoteAddr: &net.UDPAddr{IP: net.ParseIP(ip), Port: 5060}}
}

// TestReadFilterDropsAFloodFromOneSource (issue 12, 6): OPTIONS from a
// source that is no trunk pass up to the burst (4 s of rate), then are
// dropped before parsing, and pass again as the bucket refills. Another
// source, a trunk address, an exempt proxy and responses are unaffected.
func TestReadFilterDropsAFloodFromOneSource(t *testing.T) {
	a, now := testAdmission(t, func(l *Limits) { l.OptionsPerSecond = 10 })
	passed := 0
	for range 100 {
		if a.rateFilter(props("198.51.100.7"), datagram("OPTIONS")) {
			passed++
		}
	}
	if passed != 40 {
		t.Errorf("%d of 100 OPTIONS passed at once, want the burst of 40", passed)
	}
	for _, c := range []struct {
		name, ip string
		msg      []byte
	}{
		{"another source", "198.51.100.8", datagram("OPTIONS")},
		{"a trunk address", "192.0.2.10", datagram("OPTIONS")},
		{"an exempt proxy", "10.9.1.1", datagram("OPTIONS")},
		{"a response", "198.51.100.7", []byte("SIP/2.0 200 OK\r\n\r\n")},
		{"a REGISTER (its own bucket)", "198.51.100.7", datagram("REGISTER")},
	} {
		if !a.rateFilter(props(c.ip), c.msg) {
			t.Errorf("%s was dropped", c.name)
		}
	}
	*now = now.Add(time.Second)
	passed = 0
	for range 100 {
		if a.rateFilter(props("198.51.100.7"), datagram("OPTIONS")) {
			passed++
		}
	}
	if passed != 10 {
		t.Errorf("a second later %d passed, want the 10 the rate refilled", passed)
	}
	*now = now.Add(sourceIdle + time.Second)
	a.sweep()
	if a.size.Load() != 0 {
		t.Errorf("%d sources tracked after they went idle", a.size.Load())
	}
}

// TestTakeCallBoundsUnconfirmedAndPerTrunk: the unconfirmed bound counts
// from the INVITE; a confirmed call frees its unconfirmed slot but keeps
// its trunk slot until released.
func TestTakeCallBoundsUnconfirmedAndPerTrunk(t *testing.T) {
	a, _ := testAdmission(t, func(l *Limits) { l.MaxUnconfirmedCalls, l.MaxCallsPerTrunk = 2, 3 })
	flood, other := netip.MustParseAddr("192.0.2.66"), netip.MustParseAddr("192.0.2.10")
	u1, r1, _ := a.takeCall(flood, "pbx")
	_, r2, _ := a.takeCall(flood, "pbx")
	if _, _, limit := a.takeCall(flood, "pbx"); limit != "max_unconfirmed_calls" {
		t.Fatalf("3rd unconfirmed call: %q", limit)
	}
	u1.confirmed()
	u1.confirmed()                            // idempotent
	u3, r3, limit := a.takeCall(other, "pbx") // another address of the trunk is not held up by the first
	if limit != "" {
		t.Fatalf("another source: %q", limit)
	}
	u3.confirmed()
	if _, _, limit := a.takeCall(flood, "pbx"); limit != "max_calls_per_trunk" {
		t.Fatalf("4th call on the trunk: %q", limit)
	}
	r1()
	r2()
	r3()
	if a.unconfirmedOf(flood) != 0 || a.unconfirmedOf(other) != 0 || a.calls["pbx"].Load() != 0 {
		t.Errorf("after release: %d+%d unconfirmed, %d on the trunk", a.unconfirmedOf(flood), a.unconfirmedOf(other), a.calls["pbx"].Load())
	}
	// In-flight handlers per source: the bound, then room again after a leave.
	var leaves []func()
	for range a.lim.MaxInFlightPerSource {
		leave, ok := a.enter(other)
		if !ok {
			t.Fatal("refused below max_in_flight_per_source")
		}
		leaves = append(leaves, leave)
	}
	if _, ok := a.enter(other); ok {
		t.Error("admitted beyond max_in_flight_per_source")
	}
	if _, ok := a.enter(flood); !ok {
		t.Error("another source is held up by the first's handlers")
	}
	leaves[0]()
	if _, ok := a.enter(other); !ok {
		t.Error("no room after a handler left")
	}
	a.inFlight.Range(func(k, v any) bool { v.(*atomic.Int64).Store(0); return true })
	a.sweep()
	n := 0
	a.unconfirmed.Range(func(any, any) bool { n++; return true })
	a.inFlight.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Errorf("%d idle unconfirmed counters after the sweep", n)
	}
	if !a.isExempt(netip.MustParseAddr("10.9.3.4")) || a.trunkOf(netip.MustParseAddr("192.0.2.200")) != "pbx" {
		t.Error("exempt or trunk lookup wrong")
	}
}

// FuzzRateFilter: any datagram from anywhere is passed or dropped, never
// a panic.
func FuzzRateFilter(f *testing.F) {
	a, _ := testAdmission(f, nil)
	f.Add([]byte("INVITE sip:x SIP/2.0\r\n"), "198.51.100.1")
	f.Add([]byte(""), "192.0.2.1")
	f.Add([]byte("SIP/2.0 200 OK"), "::1")
	f.Fuzz(func(t *testing.T, b []byte, ip string) {
		parsed := net.ParseIP(ip)
		if parsed == nil {
			parsed = net.IPv4(198, 51, 100, 1)
		}
		_ = a.rateFilter(sip.TransportReadProps{Transport: "UDP", RemoteAddr: &net.UDPAddr{IP: parsed, Port: 1}}, b)
	})
}
