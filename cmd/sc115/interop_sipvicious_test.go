package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
)

// sipvicious runs one of Debian's sipvicious tools (bounded by a minute)
// and returns what it printed.
func sipvicious(t *testing.T, program string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // its session files stay in the test
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within a minute:\n%s", program, out)
	}
	_ = err // the tools exit non-zero when they find nothing
	t.Logf("%s %s:\n%s", filepath.Base(program), strings.Join(args, " "), out)
	return string(out)
}

// TestSipviciousLearnsNothing (issue 12, proof): Debian's sipvicious
// scans sc115 as an attacker would. svmap finds no SIP device (OPTIONS
// from an address without trunk or registered phone go unanswered), svwar
// finds no extension (REGISTER and INVITE get the same answer for users
// that exist and users that do not), and svcrack does not find 1003's
// password although it is in its dictionary (the scanning address is
// locked out for 1003 after five guesses) — while the real agent's phone
// goes on registering during and after the scan.
//
// sipvicious 0.3.3's svwar and svcrack ignore -b and always send from
// 127.0.0.1, so the scanner is 127.0.0.1 here, the trunk 127.0.0.9 and
// the agent's phone 127.0.0.3.
func TestSipviciousLearnsNothing(t *testing.T) {
	// Parallel beside TestSessionTimerEndsAnUnrefreshedCall: both mostly
	// wait (here for sipvicious's timeouts), each on its own instance.
	t.Parallel()
	svmap := interop.Require(t, "svmap", "sipvicious")
	svwar := interop.Require(t, "svwar", "sipvicious")
	svcrack := interop.Require(t, "svcrack", "sipvicious")
	cfg := testConfig(t)
	cfg.SIP.Trunks[0].Allow = []string{"127.0.0.9/32"}
	s := startTest(t, cfg)
	port := strconv.Itoa(int(s.sip.Addr().Port()))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	phone, err := testphone.New("1003", "127.0.0.3")
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	register := func(when string) {
		t.Helper()
		if res, err := phone.Register(ctx, s.sip.Addr().String(), "demo1003", 300); err != nil || res.StatusCode != 200 {
			t.Errorf("the agent's phone %s: %v %v, want 200", when, res, err)
		}
	}
	register("before the scan")

	if out := sipvicious(t, svmap, "-p", port, "127.0.0.1"); strings.Contains(out, "127.0.0.1:"+port) || !strings.Contains(out, "found nothing") {
		t.Errorf("svmap found sc115:\n%s", out)
	}
	for _, method := range []string{"REGISTER", "INVITE"} {
		out := sipvicious(t, svwar, "--force", "-m", method, "-p", port, "-e", "1000-1010,9000-9005", "127.0.0.1")
		if strings.Contains(out, "| 100") || !strings.Contains(out, "found nothing") {
			t.Errorf("svwar -m %s told extensions apart:\n%s", method, out)
		}
	}

	dict := filepath.Join(t.TempDir(), "passwords.txt")
	var words []string
	for i := range 30 {
		words = append(words, fmt.Sprintf("guess%d", i))
	}
	words = append(words, "demo1003") // the right one, last
	if err := os.WriteFile(dict, []byte(strings.Join(words, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() { done <- sipvicious(t, svcrack, "-u", "1003", "-d", dict, "-p", port, "127.0.0.1") }()
	var out string
	for scanning := true; scanning; {
		select {
		case out = <-done:
			scanning = false
		case <-time.After(200 * time.Millisecond):
			register("during svcrack")
		}
	}
	if strings.Contains(out, "demo1003") || !strings.Contains(out, "found nothing") {
		t.Errorf("svcrack found the password:\n%s", out)
	}
	register("after the scan")
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	if !strings.Contains(body, `sc115_sip_lockouts_total{scope="source_user"} 1`) {
		t.Errorf("the scanner was not locked out: %s", metricLine(body, "sc115_sip_lockouts_total"))
	}
}
