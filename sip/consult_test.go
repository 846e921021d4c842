package sip

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/sc115/sc115/queue"
)

// countingBindings is a shared binding store that counts its loads.
type countingBindings struct {
	loads int
	saved map[string][]queue.StoredBinding
}

func (c *countingBindings) SaveBindings(_ context.Context, user string, bs []queue.StoredBinding) error {
	c.saved[user] = bs
	return nil
}

func (c *countingBindings) LoadBindings(_ context.Context, user string) ([]queue.StoredBinding, error) {
	c.loads++
	return c.saved[user], nil
}

// TestTrunkCallersCostNoStoreRoundTrip: a call from the trunk is checked
// for being an agent's consultation call from inside the trunk's network.
// A caller's number is no SIP user: the check answers no without asking
// the shared store. An agent registered on another instance from that
// address is found there.
func TestTrunkCallersCostNoStoreRoundTrip(t *testing.T) {
	r := fuzzRegistrar()
	store := &countingBindings{saved: map[string][]queue.StoredBinding{}}
	r.store = store
	trunk := netip.MustParseAddr("127.0.0.1")
	if r.registeredFrom("+495111234567", trunk) || r.registeredFrom("05136115", trunk) {
		t.Fatal("a caller's number counts as a registered agent")
	}
	if store.loads != 0 {
		t.Fatalf("%d store loads for callers' numbers, want 0", store.loads)
	}
	store.saved["1003"] = []queue.StoredBinding{{Contact: "sip:1003@127.0.0.1:5070", Source: "127.0.0.1:5070", Transport: "udp",
		Instance: "other", Expires: time.Now().Add(time.Hour)}}
	if !r.registeredFrom("1003", trunk) {
		t.Fatal("agent 1003, registered on another instance from the trunk's address, is not found")
	}
	if r.registeredFrom("1003", netip.MustParseAddr("127.0.0.9")) {
		t.Fatal("agent 1003 counts as registered from an address it never registered from")
	}
}
