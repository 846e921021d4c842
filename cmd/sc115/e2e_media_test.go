package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/testphone"
	"github.com/sc115/sc115/sip/media"
)

// TestMediaTimeouts: a caller whose phone never sends RTP is ended (BYE)
// after first_packet_timeout with a failed CDR; a connected call whose
// caller's RTP stops is ended on both legs after idle_timeout, the CDR
// saying who ended it: media-timeout.
func TestMediaTimeouts(t *testing.T) {
	cfg := testConfig(t)
	cfg.Media.FirstPacketTimeout, cfg.Media.IdleTimeout = time.Second, time.Second
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target := s.sip.Addr().String()

	mute, _ := testphone.New("+495132000111", "127.0.0.1")
	defer mute.Close()
	silent, err := mute.Dial(ctx, target, "+495132115", nil) // Lehrte: nobody logged in
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-silent.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("a caller without RTP was not ended")
	}
	if row := waitCDR(t, cfg.CDR.Dir, silent.CallID, 3*time.Second); row["disposition"] != "failed" || row["hangup_by"] != "media-timeout" {
		t.Errorf("cdr %v, want failed by media-timeout", row)
	}

	agent := agentPhone(ctx, t, target, "1003")
	caller, _ := testphone.New("+495136000222", "127.0.0.1")
	defer caller.Close()
	call, err := caller.Dial(ctx, target, "+495136115", nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = in.RTP.Send(0, make([]byte, 160), 200) }() // the agent keeps talking
	_ = call.RTP.Send(8, make([]byte, 160), 25)                // the caller's phone dies after 0.5 s
	for _, leg := range []<-chan struct{}{call.Ended(), in.Ended()} {
		select {
		case <-leg:
		case <-time.After(5 * time.Second):
			t.Fatal("legs not ended after the caller's RTP stopped")
		}
	}
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 3*time.Second)
	if row["disposition"] != "answered" || row["hangup_by"] != "media-timeout" || row["agent"] != "1003" {
		t.Errorf("cdr %v, want answered, ended by media-timeout", row)
	}
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	if l := metricLine(body, "sc115_media_timeouts_total "); l == "" || strings.HasSuffix(l, " 0") {
		t.Errorf("media timeouts metric: %q", l)
	}
}

// TestCallerHearsGreetingPositionWaitThenHold listens to what a queued
// caller receives: the greeting, "Sie sind an Position eins. Die
// voraussichtliche Wartezeit beträgt etwa drei Minuten." (nobody logged
// in: one round of the default 3 min handling time), then the hold track —
// every A-law frame in order, compared with the prompts; once with the
// default track and once with a municipality's own hold class (hold_track).
func TestCallerHearsGreetingPositionWaitThenHold(t *testing.T) {
	for _, c := range []struct{ name, holdClass, track string }{
		{"default hold track", "", "hold"},
		{"municipality's hold class", "feature-ready.wav", "feature-ready"},
	} {
		t.Run(c.name, func(t *testing.T) { testGreetingPositionWaitHold(t, c.holdClass, c.track) })
	}
}

func testGreetingPositionWaitHold(t *testing.T, holdClass, track string) {
	cfg := testConfig(t)
	for i := range cfg.ACD.Municipalities {
		if cfg.ACD.Municipalities[i].Key == "lehrte" {
			cfg.ACD.Municipalities[i].Greeting = "feature-pause.wav" // a short greeting keeps the test short
			cfg.ACD.Municipalities[i].HoldTrack = holdClass
		}
	}
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var want []string
	total := 0
	for _, name := range []string{"feature-pause", "position-intro", "num-1", "wait-intro", "num-3", "minutes"} {
		p, err := media.LoadWAV("../../prompts/de/" + name + ".wav")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < p.Frames(); i++ {
			want = append(want, string(p.Frame(media.PCMA, i)))
		}
		total += p.Frames()
	}
	hold, err := media.LoadWAV("../../prompts/de/" + track + ".wav")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 25; i++ {
		want = append(want, string(hold.Frame(media.PCMA, i%hold.Frames())))
	}
	caller, _ := testphone.New("+495132444555", "127.0.0.1")
	defer caller.Close()
	call, err := caller.Dial(ctx, s.sip.Addr().String(), "+495132115", []string{"8 PCMA/8000"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Duration(len(want))*20*time.Millisecond + 30*time.Second)
	for len(call.RTP.Received()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	got := call.RTP.Received()
	if len(got) < len(want) {
		t.Fatalf("received %d frames, want %d", len(got), len(want))
	}
	assertPlayedInOrder(t, got[:len(want)], want, fmt.Sprintf("announcement of %d frames, then hold", total))
	// One stream: sequence numbers without a gap; the timestamp advances a
	// frame (160) per packet, or by the frames the media clock skipped on a
	// busy machine (the skip is time that passed, RFC 3550 §5.1).
	for i := 1; i < len(want); i++ {
		dts := got[i].Header.Timestamp - got[i-1].Header.Timestamp
		if got[i].Header.SequenceNumber != got[i-1].Header.SequenceNumber+1 || dts == 0 || dts%160 != 0 || dts > 160*50 {
			t.Fatalf("frame %d: sequence %d→%d, timestamp +%d: not one continuous stream", i, got[i-1].Header.SequenceNumber, got[i].Header.SequenceNumber, dts)
		}
	}
	_ = call.Bye(ctx)
}

// TestHoldAndResumeByReInvite: the caller's phone holds the call
// (re-INVITE a=sendonly → 200 a=recvonly): the agent's audio no longer
// reaches it; it resumes (a=sendrecv) and hears the agent again; the CDR
// counts the hold time.
func TestHoldAndResumeByReInvite(t *testing.T) {
	cfg := testConfig(t)
	cfg.Media.IdleTimeout = 500 * time.Millisecond // a held leg is exempt: the 1 s hold below must not end the call
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	agent := agentPhone(ctx, t, target, "1003")
	caller, _ := testphone.New("+495136111222", "127.0.0.1")
	defer caller.Close()
	call, err := caller.Dial(ctx, target, "+495136115", []string{"8 PCMA/8000"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	talk := make(chan struct{})
	go func() { // the agent talks all along
		for {
			select {
			case <-talk:
				return
			default:
				_ = in.RTP.Send(0, make([]byte, 160), 5)
			}
		}
	}()
	defer close(talk)
	_ = call.RTP.Send(8, make([]byte, 160), 25) // the caller talks, then holds and sends nothing

	res, err := call.ReInvite(ctx, "sendonly")
	if err != nil || res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("hold: %v %v", res, err)
	}
	time.Sleep(100 * time.Millisecond)
	call.RTP.Reset()
	time.Sleep(time.Second)
	if n := len(call.RTP.Received()); n > 2 {
		t.Errorf("on hold, the caller still got %d packets", n)
	}
	select {
	case <-call.Ended():
		t.Fatal("the held call was ended by the media timeout")
	default:
	}
	res, err = call.ReInvite(ctx, "sendrecv")
	if err != nil || res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=sendrecv") {
		t.Fatalf("resume: %v %v", res, err)
	}
	go func() { _ = call.RTP.Send(8, make([]byte, 160), 50) }() // talking again
	for deadline := time.Now().Add(15 * time.Second); len(call.RTP.Received()) < 5 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(call.RTP.Received()); n < 5 {
		t.Errorf("after resume the caller got %d packets, want the agent's audio again", n)
	}
	_ = call.Bye(ctx)
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 5*time.Second)
	hold, _ := strconv.Atoi(row["hold_ms"])
	if hold < 1000 || hold > 2500 || row["disposition"] != "answered" {
		t.Errorf("cdr hold_ms=%s disposition=%s, want ~1100 ms, answered", row["hold_ms"], row["disposition"])
	}
}

// TestClosedAnnouncement: outside Garbsen's opening hours the caller is
// answered, hears the closed announcement frame by frame, and gets BYE.
func TestClosedAnnouncement(t *testing.T) {
	cfg := testConfig(t)
	for i := range cfg.ACD.Municipalities {
		if cfg.ACD.Municipalities[i].Key == "garbsen" {
			cfg.ACD.Municipalities[i].Hours = &acd.Hours{Holidays: "none"} // never open
		}
	}
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caller, _ := testphone.New("+495131999000", "127.0.0.1")
	defer caller.Close()
	call, err := caller.Dial(ctx, s.sip.Addr().String(), "+495131115", []string{"8 PCMA/8000"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-call.Ended():
	case <-time.After(15 * time.Second):
		t.Fatal("no BYE after the closed announcement")
	}
	closed, _ := media.LoadWAV("../../prompts/de/closed.wav")
	got := call.RTP.Received()
	if len(got) < closed.Frames() {
		t.Fatalf("heard %d frames, the announcement has %d", len(got), closed.Frames())
	}
	var want []string
	for i := 0; i < closed.Frames(); i++ {
		want = append(want, string(closed.Frame(media.PCMA, i)))
	}
	assertPlayedInOrder(t, got, want, "the closed announcement")
	if row := waitCDR(t, cfg.CDR.Dir, call.CallID, 3*time.Second); row["disposition"] != "rejected_closed" {
		t.Errorf("cdr %v", row)
	}
}

// assertPlayedInOrder checks that the frames a caller got are the frames
// of want in their order, from the first: nothing else, nothing out of
// order. A media clock that fell behind on a busy machine skips ahead
// (it never plays late audio); skips are allowed and logged, but at least
// half of want must have been heard.
func assertPlayedInOrder(t *testing.T, got []testphone.Packet, want []string, what string) {
	t.Helper()
	if len(got) == 0 || string(got[0].Payload) != want[0] {
		t.Fatalf("the first frame is not the start of %s", what)
	}
	in := map[string]bool{}
	for _, w := range want {
		in[w] = true
	}
	for len(got) > 0 && !in[string(got[len(got)-1].Payload)] {
		got = got[:len(got)-1] // what was sent after it (silence before the BYE)
	}
	j, heard := 0, 0
	for i, p := range got {
		k := j
		for k < len(want) && want[k] != string(p.Payload) {
			k++
		}
		if k == len(want) {
			t.Fatalf("frame %d is not %s, or out of order (after its frame %d)", i, what, j)
		}
		j, heard = k+1, heard+1
	}
	if skipped := j - heard; skipped > 0 {
		t.Logf("%s: %d of %d frames heard, %d skipped by the media clock", what, heard, j, skipped)
	}
	if heard < len(want)/2 {
		t.Errorf("heard %d of the %d frames of %s", heard, len(want), what)
	}
}
