package main

import "testing"

// TestParsePortRange: --bare-hold's HOST:LOW-HIGH gives one address a
// port; a bad spec is refused with a reason.
func TestParsePortRange(t *testing.T) {
	peers, err := parsePortRange("127.0.0.1:10000-10002")
	if err != nil || len(peers) != 3 || peers[0].String() != "127.0.0.1:10000" || peers[2].String() != "127.0.0.1:10002" {
		t.Fatalf("%v %v", peers, err)
	}
	for _, bad := range []string{"", "127.0.0.1", "127.0.0.1:10-5", "127.0.0.1:0-3", "host:1-2", "127.0.0.1:1-70000", "127.0.0.1:1000-40000"} {
		if _, err := parsePortRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
