package main

import (
	"bytes"
	"context"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// generatorLine matches the report's line on the generator's shape: live
// calls at the peak, goroutines then and before the first call, and per call.
const generatorLine = `generator: (\d+) calls alive at the peak, (\d+) goroutines then \((\d+) before the first call\): ([\d.]+) per call`

// TestSimulateAgainstErlangC (issue 17): `sc115 simulate` drives sc115 over
// real SIP and RTP at a small scale — Burgdorf's three agents (1001, 1003,
// 1006), 1.5 calls a second for 200 calls, 0.7 s mean talk, a wrap-up the
// agents end themselves (*44) after 0.3 s on average, a 0.5 s threshold:
// 1.5 Erlangs, Erlang C predicts 89 % — and
// the measured service level is within 15 points of the prediction for
// the traffic as it came. The tolerance is the run's own randomness: a
// pure M/M/3 simulation of 200 such calls scatters with a standard
// deviation of 5.6 points around Erlang C; this is 2.7 of them. Every
// call is answered, the agents' audio reaches the callers in the law
// they offered with under 5 % loss, the callers' audio reaches the agents,
// and the generator holds at most one goroutine per live call.
func TestSimulateAgainstErlangC(t *testing.T) {
	cfg := testConfig(t)
	cfg.ACD.Queue.Wrapup = 2 * time.Second // the agents end it themselves, after 0.3 s on average
	s := startTest(t, cfg)
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// The real command, in a process of its own (its goroutines are its
	// own), with the example config's Burgdorf agents and their passwords.
	cmd := exec.CommandContext(ctx, bin, "simulate", "--config", writeConfig(t, func(s string) string { return s }),
		"--target", s.sip.Addr().String(), "--municipality", "burgdorf", "--agents", "3",
		"--rate", "1.5", "--calls", "200", "--talk", "700ms", "--ring-delay", "0s", "--wrapup", "2s", "--wrapup-mean", "300ms",
		"--threshold", "500ms", "--seed", "1", "--quiet")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("sc115 simulate:\n%s%s", stderr.String(), out)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	num := func(re string) []float64 {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no %q in the report", re)
		}
		var f []float64
		for _, s := range m[1:] {
			v, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
			if err != nil {
				t.Fatalf("%q in %q: %v", s, m[0], err)
			}
			f = append(f, v)
		}
		return f
	}
	calls := num(`offered (\d+), answered (\d+), abandoned (\d+) .*failed (\d+)`)
	if calls[0] != 200 || calls[1] != 200 || calls[3] != 0 {
		t.Errorf("offered %v answered %v failed %v: want every call answered", calls[0], calls[1], calls[3])
	}
	sl := num(`service level ([\d.]+) % within 500ms; Erlang C predicts ([\d.]+) % \(([\d.]+) Erlangs, 3 agents\)`)
	if d := math.Abs(sl[0] - sl[1]); d > 15 {
		t.Errorf("measured SL %.1f %% vs Erlang C %.1f %%: off by %.1f points", sl[0], sl[1], d)
	}
	media := num(`media: (\d+) agent frames sent, (\d+) reached the callers \(loss ([\d.]+) %\), (\d+) in the wrong law`)
	if media[0] == 0 || media[2] > 5 || media[3] != 0 {
		t.Errorf("media: sent %v received %v (loss %v %%), wrong law %v", media[0], media[1], media[2], media[3])
	}
	// The other direction: the callers' frames reach the agents.
	if back := num(`media: (\d+) caller frames reached the agents`); back[0] < media[1]/2 {
		t.Errorf("only %v caller frames reached the agents (agents' frames at callers: %v)", back[0], media[1])
	}
	// The generator's shape: a goroutine per call at most beyond its fixed
	// ones (the sockets' readers, the RTP pacers) — give or take two
	// handlers of an in-dialog request (an ACK, a BYE) that sipgo runs
	// for a moment when the count is taken.
	if g := num(generatorLine); g[0] == 0 || g[1]-g[2] > g[0]+2 {
		t.Errorf("generator: %v goroutines for %v live calls beyond %v fixed: want at most one per call", g[1], g[0], g[2])
	}

	// The loop closed: sc115's CDRs of the run are what `staffing
	// --from-cdrs` measures — Burgdorf's 200 calls (less than a week of
	// rows counts as one: 200 × 52 a year), in its skill, with the
	// handling time the agents had (0.7 s talk + ~0.3 s wrap-up).
	deadline := time.Now().Add(time.Minute)
	for len(readCDRs(t, cfg.CDR.Dir)) < 200 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	code, report := captureStdout(t, func() int {
		return run([]string{"staffing", "--config", "../../deploy/examples/region-hannover.yaml", "--from-cdrs", cfg.CDR.Dir})
	})
	if code != 0 {
		t.Fatalf("staffing --from-cdrs: exit %d\n%s", code, report)
	}
	m := regexp.MustCompile(`: 10400 calls/year, (\S+) talk \+ wrap-up per call`).FindStringSubmatch(report)
	if m == nil || !regexp.MustCompile(`(?m)^\s+burgdorf\s+10400\s`).MatchString(report) {
		t.Fatalf("staffing from the run's CDRs:\n%s", report)
	}
	if aht, err := time.ParseDuration(m[1]); err != nil || aht < 600*time.Millisecond || aht > 2500*time.Millisecond {
		t.Errorf("measured handling time %s, want about 1 s", m[1])
	}
}
