package main

import (
	"context"
	"testing"
	"time"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/testphone"
	"github.com/sc115/sc115/sip/media"
)

// TestMenuWithRealKeys (issue 16): Burgdorf with a menu (1 = the
// Bürgerbüro's hours, 2 = the Garbsen queue), the caller's keys sent as
// RFC 4733 telephone-events over RTP. 1: the caller hears the hours
// announcement, sc115 hangs up, the CDR says self_service. An invalid key
// first: the invalid-key prompt, then the menu again. 2: the call rings
// an agent of Garbsen's queue (1003), and the CDR names that queue.
func TestMenuWithRealKeys(t *testing.T) {
	load := func(name string) *media.Prompt { return loadPrompt(t, name) }
	menuPrompt, invalid, hours := load("menu-burgdorf.wav"), load("menu-invalid.wav"), load("hours-buergerbuero-burgdorf.wav")
	setup := func(t *testing.T) (*service, Config) {
		cfg := testConfig(t)
		for i := range cfg.ACD.Municipalities {
			if m := &cfg.ACD.Municipalities[i]; m.Key == "burgdorf" {
				m.Greeting = "feature-pause.wav" // short: the menu follows at once
				m.Menu = &acd.Menu{Prompt: "menu-burgdorf.wav", Timeout: 20 * time.Second,
					Options: map[string]acd.MenuOption{"1": {Prompt: "hours-buergerbuero-burgdorf.wav"}, "2": {Queue: "garbsen"}}}
			}
		}
		return startTest(t, cfg), cfg
	}
	// heard waits until the caller has heard p's first frame (a prompt is
	// playing) and returns how many packets had arrived by then.
	heard := func(t *testing.T, call *testphone.Call, p *media.Prompt, from int) int {
		t.Helper()
		first := string(p.Frame(media.PCMA, 0))
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			got := call.RTP.Received()
			for i := from; i < len(got); i++ {
				if string(got[i].Payload) == first {
					return i
				}
			}
		}
		t.Fatalf("never heard the prompt (%d frames long)", p.Frames())
		return 0
	}

	t.Run("invalid key, then 1: the hours, then the end", func(t *testing.T) {
		s, cfg := setup(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		call := keysCaller(ctx, t, s.sip.Addr().String())
		at := heard(t, call, menuPrompt, 0)
		if err := call.RTP.SendDTMF(101, '5'); err != nil {
			t.Fatal(err)
		}
		at = heard(t, call, invalid, at)
		at = heard(t, call, menuPrompt, at) // the menu again
		if err := call.RTP.SendDTMF(101, '1'); err != nil {
			t.Fatal(err)
		}
		heard(t, call, hours, at)
		waitEnded(t, "the call after the information", call.Ended())
		row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute)
		if row["disposition"] != "self_service" || row["agent"] != "" || row["hangup_by"] != "system" {
			t.Errorf("CDR %v, want self_service, no agent, hung up by the system", row)
		}
		// All of the hours announcement was sent before the BYE.
		got := call.RTP.Received()
		last := string(hours.Frame(media.PCMA, hours.Frames()-1))
		found := false
		for _, p := range got {
			found = found || string(p.Payload) == last
		}
		if !found {
			t.Error("the hours announcement was cut off before its last frame")
		}
	})

	t.Run("2: Garbsen's queue", func(t *testing.T) {
		s, cfg := setup(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		target := s.sip.Addr().String()
		agent := agentPhone(ctx, t, target, "1003") // Burgdorf 9 and Garbsen 4
		call := keysCaller(ctx, t, target)
		heard(t, call, menuPrompt, 0)
		if err := call.RTP.SendDTMF(101, '2'); err != nil {
			t.Fatal(err)
		}
		in, err := agent.NextIncoming(ctx)
		if err != nil {
			t.Fatal(err)
		}
		talkBothWays(t, call, in, nil)
		_ = call.Bye(ctx)
		row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute)
		if row["disposition"] != "answered" || row["queue"] != "garbsen" || row["agent"] != "1003" {
			t.Errorf("CDR %v, want answered by 1003 in queue garbsen", row)
		}
	})
}

// keysCaller calls Burgdorf offering A-law and telephone-event 101 (the
// keys); the phone closes when the test ends.
func keysCaller(ctx context.Context, t *testing.T, target string) *testphone.Call {
	t.Helper()
	caller, err := testphone.New("+495136123456", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(caller.Close)
	call, err := caller.Dial(ctx, target, "05136115", []string{"8 PCMA/8000", "101 telephone-event/8000"})
	if err != nil {
		t.Fatal(err)
	}
	return call
}
