package main

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
)

// TestSippAttendedTransfer (issue 14): a sipp caller streaming a tone,
// the municipal office behind the trunk a sipp UAS (echoing what it
// hears, or busy), and agent 1003 a Go phone, because one sipp process
// cannot hold the two dialogs of an attended transfer: sipp matches every
// message to its call by Call-ID, and the REFER on the caller's dialog
// must name the consultation's Call-ID and sc115's tag from the other one
// (baresip 1.0, the packaged softphone, has no attended transfer at all).
// Answered: the agent holds, consults the Bürgerbüro, hears its own voice
// echoed by the office, REFERs with Replaces — 202, NOTIFY 200, both its
// calls end — and the caller talks on with the office until it hangs up;
// the row says attended. Busy: the consultation gets 486, the agent
// resumes and hears the caller again; no transfer in the row. Every sipp
// finishes its scenario without error.
func TestSippAttendedTransfer(t *testing.T) {
	sipp := interop.Require(t, "sipp", "sip-tester")
	for _, c := range []struct {
		name, office string
		transfer     bool
	}{
		{"answered", "testdata/sipp/agent-answer.xml", true},
		{"busy", "testdata/sipp/uas-busy.xml", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each its own instance, ports and sipps; most of the time is the caller's talk
			dir := t.TempDir()
			officePort := interop.FreePort(t, "udp")
			cfg := transferConfig(t, "127.0.0.1:"+strconv.Itoa(officePort))
			s := startTest(t, cfg)
			target := s.sip.Addr().String()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			office := startSipp(ctx, t, sipp, dir, "office", "-sf", c.office, "-m", "1", "-p", strconv.Itoa(officePort),
				"-mp", strconv.Itoa(interop.FreeMediaPort(t)), "-rtp_echo", target)
			agent := agentPhone(ctx, t, target, "1003")
			audio := filepath.Join(dir, "tone.ulaw")
			writeTone(t, audio, 1000, 25*time.Second)
			callerScen := filepath.Join(dir, "caller.xml")
			// The caller talks 15 s in all, then hangs up: time enough for
			// the whole transfer (about a second here), which the test
			// checks is over before.
			renderTemplate(t, "testdata/sipp/caller.xml.tmpl", callerScen, map[string]any{"Number": "05136115", "Audio": audio, "TalkMS": 15000})
			caller := startSipp(ctx, t, sipp, dir, "caller", "-sf", callerScen, "-m", "1", "-mp", strconv.Itoa(interop.FreeMediaPort(t)), target)
			in, err := agent.NextIncoming(ctx)
			if err != nil {
				t.Fatal(err)
			}
			waitPackets(t, "the agent (the caller's tone)", in.RTP, 0, 25)
			if res, err := in.ReInvite(ctx, "sendonly"); err != nil || res.StatusCode != 200 {
				t.Fatalf("hold: %v %v", res, err)
			}
			consult, err := agent.Dial(ctx, target, "buergerbuero", []string{"0 PCMU/8000"})
			if !c.transfer {
				if code := dialStatus(consult, err); code != 486 {
					t.Fatalf("consultation with the busy office: %v %d, want 486", err, code)
				}
				if res, err := in.ReInvite(ctx, "sendrecv"); err != nil || res.StatusCode != 200 {
					t.Fatalf("resume: %v %v", res, err)
				}
				in.RTP.Reset()
				waitPackets(t, "the agent back with the caller", in.RTP, 0, 25)
			} else {
				if err != nil {
					t.Fatalf("consultation with the office: %v", err)
				}
				_, agentFrame := talkFrames()
				if err := consult.RTP.Send(0, agentFrame, 50); err != nil {
					t.Fatal(err)
				}
				waitHeard(t, "the agent (its voice echoed by the office)", consult.RTP.Received, 0, agentFrame, 40)
				if res, err := in.ReferReplacing(ctx, "buergerbuero", consult); err != nil || res.StatusCode != 202 {
					t.Fatalf("REFER with Replaces: %v %v", res, err)
				}
				for n := nextNotify(t, in); n != "SIP/2.0 200 OK"; n = nextNotify(t, in) {
					if n != "SIP/2.0 100 Trying" {
						t.Fatalf("NOTIFY %q", n)
					}
				}
				waitEnded(t, "the agent's call with the caller", in.Ended())
				waitEnded(t, "the consultation call", consult.Ended())
			}
			if err := caller.Wait(); err != nil {
				t.Fatalf("sipp caller: %v\n%s", err, readLogs(dir, "caller"))
			}
			if err := office.Wait(); err != nil {
				t.Fatalf("sipp office: %v\n%s", err, readLogs(dir, "office"))
			}
			var rows []map[string]string
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && len(rows) == 0; time.Sleep(50 * time.Millisecond) {
				rows = readCDRs(t, cfg.CDR.Dir)
			}
			if len(rows) != 1 {
				t.Fatalf("rows %v", rows)
			}
			row := rows[0]
			want := map[string]string{"disposition": "answered", "agent": "1003", "hangup_by": "caller", "transfer_kind": "", "transfer_target": ""}
			if c.transfer {
				want["transfer_kind"], want["transfer_target"], want["transferred_by"] = "attended", "+4951361890", "1003"
			}
			for k, v := range want {
				if row[k] != v {
					t.Errorf("%s = %q, want %q (row %v)", k, row[k], v, row)
				}
			}
		})
	}
}

// waitPackets waits until rtp received at least n packets of payload
// type pt.
func waitPackets(t *testing.T, who string, rtp *testphone.RTP, pt uint8, n int) {
	t.Helper()
	count := func() int {
		k := 0
		for _, p := range rtp.Received() {
			if p.Header.PayloadType == pt {
				k++
			}
		}
		return k
	}
	for deadline := time.Now().Add(30 * time.Second); count() < n && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	if got := count(); got < n {
		t.Fatalf("%s received %d packets of payload type %d, want ≥ %d", who, got, pt, n)
	}
}

// waitEnded waits for a leg's end.
func waitEnded(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not end", what)
	}
}
