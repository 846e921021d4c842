package main

import (
	"context"
	"testing"
	"time"

	"github.com/zaf/g711"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/testphone"
	"github.com/sc115/sc115/sip/media"
)

// TestGreetingModes (issue 16): Burgdorf's greeting, with an agent free
// from the start. complete (the default): the caller hears every frame of
// the greeting, in order, and only then the agent. interruptible: the
// agent answers while the greeting plays and its voice cuts the greeting
// off (the old behaviour).
func TestGreetingModes(t *testing.T) {
	greeting, err := media.LoadWAV("../../prompts/de/greeting-burgdorf.wav")
	if err != nil {
		t.Fatal(err)
	}
	var frames []string
	for i := 0; i < greeting.Frames(); i++ {
		frames = append(frames, string(greeting.Frame(media.PCMA, i)))
	}
	last := frames[len(frames)-1]
	_, agentFrame := talkFrames()
	agentVoice := string(g711.Ulaw2Alaw(agentFrame))

	for _, mode := range []acd.GreetingMode{acd.GreetingComplete, acd.GreetingInterruptible} {
		t.Run(string(mode), func(t *testing.T) {
			cfg := testConfig(t)
			for i := range cfg.ACD.Municipalities {
				if m := &cfg.ACD.Municipalities[i]; m.Key == "burgdorf" {
					if m.Greeting != "greeting-burgdorf.wav" {
						t.Fatalf("the example's Burgdorf greets with %q", m.Greeting)
					}
					m.GreetingMode = mode
				}
			}
			s := startTest(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			target := s.sip.Addr().String()
			agent := agentPhone(ctx, t, target, "1003")
			caller, call := burgdorfCaller(ctx, t, target)
			defer caller.Close()
			in, err := agent.NextIncoming(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := in.RTP.Send(0, agentFrame, 50); err != nil {
				t.Fatal(err)
			}
			var got []testphone.Packet
			firstAgent := -1
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && firstAgent < 0; time.Sleep(50 * time.Millisecond) {
				got = call.RTP.Received()
				for i, p := range got {
					if string(p.Payload) == agentVoice {
						firstAgent = i
						break
					}
				}
			}
			if firstAgent < 0 {
				t.Fatalf("the caller never heard the agent (%d frames received)", len(got))
			}
			lastGreeting := -1
			for i, p := range got[:firstAgent] {
				if string(p.Payload) == last {
					lastGreeting = i
				}
			}
			switch mode {
			case acd.GreetingComplete:
				if lastGreeting < 0 {
					t.Fatalf("the agent was heard after %d frames, before the greeting's last frame (%d frames long)", firstAgent, len(frames))
				}
				assertPlayedInOrder(t, got[:lastGreeting+1], frames, "the whole greeting")
			case acd.GreetingInterruptible:
				if lastGreeting >= 0 {
					t.Fatalf("the greeting was over before the agent was heard (frame %d of %d)", firstAgent, len(got))
				}
			}
			_ = call.Bye(ctx)
		})
	}
}
