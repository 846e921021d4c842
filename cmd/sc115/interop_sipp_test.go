package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/zaf/g711"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
)

// TestSippCallThroughAgent drives the foundation call with sipp, a SIP
// tool nobody here wrote: one sipp registers agent 1003 with digest auth,
// a second sipp is that agent's phone (answers PCMU, echoes RTP), a third
// is the PBX forwarding a citizen's call to Burgdorf that talks for 2 s
// and hangs up. All three must finish their scenarios without error, the
// agent's echo must reach sc115, and the CDR must say answered by 1003.
func TestSippCallThroughAgent(t *testing.T) {
	sipp := interop.Require(t, "sipp", "sip-tester")
	cfg := testConfig(t)
	s := startTest(t, cfg)
	target := s.sip.Addr().String()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	uasPort := interop.FreePort(t, "udp")
	runSipp(ctx, t, sipp, dir, "register", "-sf", "testdata/sipp/agent-register.xml", "-m", "1",
		"-au", "1003", "-ap", "demo1003", "-key", "agent", "1003", "-key", "uasport", strconv.Itoa(uasPort), target)

	// The agent's phone waits for the offer in the background.
	uas := startSipp(ctx, t, sipp, dir, "agent", "-sf", "testdata/sipp/agent-answer.xml", "-m", "1",
		"-p", strconv.Itoa(uasPort), "-mp", strconv.Itoa(interop.FreeMediaPort(t)), "-rtp_echo", target)

	audio := filepath.Join(dir, "tone.ulaw")
	writeTone(t, audio, 1000, 3*time.Second)
	scen := filepath.Join(dir, "caller.xml")
	renderTemplate(t, "testdata/sipp/caller.xml.tmpl", scen, map[string]any{"Number": "05136115", "Audio": audio, "TalkMS": 2000})
	runSipp(ctx, t, sipp, dir, "caller", "-sf", scen, "-m", "1", "-mp", strconv.Itoa(interop.FreeMediaPort(t)), target)

	if err := uas.Wait(); err != nil {
		t.Fatalf("sipp agent phone: %v\n%s", err, readLogs(dir, "agent"))
	}

	// The CDR is written when the agent's wrap-up is over.
	var rows []map[string]string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && len(rows) == 0; time.Sleep(50 * time.Millisecond) {
		rows = readCDRs(t, cfg.CDR.Dir)
	}
	if len(rows) != 1 {
		t.Fatalf("want 1 CDR row, got %d: %v", len(rows), rows)
	}
	r := rows[0]
	if r["disposition"] != "answered" || r["agent"] != "1003" || r["municipality"] != "burgdorf" || r["caller"] != "+495136123xxx" {
		t.Errorf("cdr = %v", r)
	}
	talk, _ := strconv.Atoi(r["talk_ms"])
	if talk < 1800 || talk > 20000 { // sipp talks 2 s; the upper bound only catches nonsense
		t.Errorf("talk_ms = %d, want about 2000", talk)
	}
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	in := metricLine(body, "sc115_media_packets_in_total ")
	n, _ := strconv.ParseFloat(strings.TrimPrefix(in, "sc115_media_packets_in_total "), 64)
	// ~100 frames from the caller in 2 s, and the agent echoes what it got.
	if n < 150 {
		t.Errorf("sc115 received %v RTP packets, want ≥ 150 (caller's audio plus the agent's echo)", n)
	}
}

func sippArgs(dir, name string, args []string) []string {
	base := []string{"-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin", "-timeout", "30s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, name+"-errors.log"),
		"-trace_msg", "-message_file", filepath.Join(dir, name+"-messages.log")}
	return append(base, args...)
}

func runSipp(ctx context.Context, t testing.TB, sipp, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, sipp, sippArgs(dir, name, args)...)
	cmd.Dir = "."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sipp %s: %v\n%s\n%s", name, err, lastLines(string(out), 20), readLogs(dir, name))
	}
}

func startSipp(ctx context.Context, t testing.TB, sipp, dir, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, sipp, sippArgs(dir, name, args)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A sipp that listens (-p) must have bound its port before sc115 sends
	// to it, however long it takes to start here; one that exited instead
	// (a port taken) fails the test at once, with what it said.
	for i, a := range args {
		if a == "-p" && i+1 < len(args) {
			port, _ := strconv.Atoi(args[i+1])
			for deadline := time.Now().Add(30 * time.Second); !interop.UDPBound(t, port); time.Sleep(10 * time.Millisecond) {
				if exited(cmd.Process.Pid) || time.Now().After(deadline) {
					t.Fatalf("sipp %s never bound UDP port %d (exited: %v)\n%s\n%s", name, port, exited(cmd.Process.Pid),
						lastLines(out.String(), 20), readLogs(dir, name))
				}
			}
		}
	}
	return cmd
}

// exited tells whether a child process has ended (a zombie not yet
// waited for).
func exited(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, after, _ := strings.Cut(string(data), ") ")
	return strings.HasPrefix(after, "Z") || strings.HasPrefix(after, "X")
}

func readLogs(dir, name string) string {
	var b strings.Builder
	for _, f := range []string{name + "-errors.log", name + "-messages.log"} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		fmt.Fprintf(&b, "--- %s\n%s\n", f, lastLines(string(data), 60))
	}
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// writeTone writes a µ-law sine tone for sipp's rtp_stream.
func writeTone(t testing.TB, path string, hz float64, d time.Duration) {
	t.Helper()
	n := int(d.Seconds() * 8000)
	pcm := make([]byte, 2*n)
	for i := 0; i < n; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
		pcm[2*i], pcm[2*i+1] = byte(v), byte(uint16(v)>>8)
	}
	if err := os.WriteFile(path, g711.EncodeUlaw(pcm), 0o644); err != nil {
		t.Fatal(err)
	}
}

func renderTemplate(t testing.TB, src, dst string, data any) {
	t.Helper()
	tmpl, err := template.ParseFiles(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tmpl.Execute(f, data); err != nil {
		t.Fatal(err)
	}
}

// TestSippRegisterOverTCP: the TCP listener and the registrar work for a
// phone that registers over TCP (sipp -t t1), digest and all.
func TestSippRegisterOverTCP(t *testing.T) {
	sipp := interop.Require(t, "sipp", "sip-tester")
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runSipp(ctx, t, sipp, t.TempDir(), "register-tcp", "-sf", "testdata/sipp/agent-register.xml", "-m", "1", "-t", "t1",
		"-au", "1002", "-ap", "demo1002", "-key", "agent", "1002", "-key", "uasport", "5999", s.sip.Addr().String())
	if !s.sip.Registered("1002") {
		t.Error("1002 not registered after REGISTER over TCP")
	}
	// The registrar answers 200 first, then logs the agent in.
	for deadline := time.Now().Add(30 * time.Second); s.engine.AgentStates()["1002"] != acd.AgentAvailable; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("agent 1002 is %s, want available", s.engine.AgentStates()["1002"])
		}
	}
}

// TestSippRegistrations: sipp registers two Contacts in one REGISTER (the
// agent is logged in with two devices), then removes all with Contact: *;
// wrong passwords get 403, and after lockout_failures wrong ones even the
// right password gets 403.
func TestSippRegistrations(t *testing.T) {
	sipp := interop.Require(t, "sipp", "sip-tester")
	cfg := testConfig(t)
	cfg.SIP.LockoutFailures = 3
	s := startTest(t, cfg)
	target := s.sip.Addr().String()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	multi := startSipp(ctx, t, sipp, dir, "multi", "-sf", "testdata/sipp/register-multi.xml", "-m", "1",
		"-au", "1004", "-ap", "demo1004", "-key", "agent", "1004", "-key", "uasport", "5999", target)
	for deadline := time.Now().Add(30 * time.Second); s.sip.BindingCount("1004") != 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("1004 has %d bindings, want 2 from one REGISTER", s.sip.BindingCount("1004"))
		}
	}
	waitAgent(t, s, "1004", acd.AgentAvailable)
	if err := multi.Wait(); err != nil {
		t.Fatalf("sipp register-multi: %v\n%s", err, readLogs(dir, "multi"))
	}
	if n := s.sip.BindingCount("1004"); n != 0 {
		t.Errorf("after Contact: * / Expires: 0: %d bindings", n)
	}
	waitAgent(t, s, "1004", acd.AgentLoggedOut)

	for i := 0; i < 3; i++ {
		runSipp(ctx, t, sipp, dir, fmt.Sprintf("bad%d", i), "-sf", "testdata/sipp/register-bad.xml", "-m", "1",
			"-au", "1005", "-ap", "wrong"+strconv.Itoa(i), "-key", "agent", "1005", target)
	}
	// Locked out now: the right password is refused too.
	runSipp(ctx, t, sipp, dir, "locked", "-sf", "testdata/sipp/register-bad.xml", "-m", "1",
		"-au", "1005", "-ap", "demo1005", "-key", "agent", "1005", target)
}

// TestSippFederationOverflow: nobody is logged in for Burgdorf, so its
// calls overflow to the 115 federation. Three sipp "centers": the first
// answers 503, the second does not answer at all (nothing listens: the ring
// timeout ends it), the third (sipp's built-in UAS) answers. The call is
// bridged there; the INVITE it got carries the dialed number, Diversion and
// the X-115 headers; the CDR says overflowed to the third.
func TestSippFederationOverflow(t *testing.T) {
	sipp := interop.Require(t, "sipp", "sip-tester")
	cfg := testConfig(t)
	p503, pDead, pOK := interop.FreePort(t, "udp"), interop.FreePort(t, "udp"), interop.FreePort(t, "udp")
	cfg.ACD.Federation = []acd.FederationTarget{
		{Name: "full", URI: fmt.Sprintf("sip:115@127.0.0.1:%d", p503)},
		{Name: "dead", URI: fmt.Sprintf("sip:115@127.0.0.1:%d", pDead)},
		{Name: "ok", URI: fmt.Sprintf("sip:115@127.0.0.1:%d", pOK)},
	}
	cfg.ACD.FederationRingTimeout = 2 * time.Second
	for i := range cfg.ACD.Municipalities {
		if cfg.ACD.Municipalities[i].Key == "burgdorf" {
			cfg.ACD.Municipalities[i].Overflow = &acd.OverflowRules{NoAgents: true, OnFailure: "queue"}
		}
	}
	s := startTest(t, cfg)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := startSipp(ctx, t, sipp, dir, "full", "-sf", "testdata/sipp/uas-503.xml", "-m", "1", "-p", strconv.Itoa(p503), "127.0.0.1:5999")
	ok := startSipp(ctx, t, sipp, dir, "ok", "-sn", "uas", "-m", "1", "-p", strconv.Itoa(pOK), "-mp", strconv.Itoa(interop.FreeMediaPort(t)), "127.0.0.1:5999")

	caller, _ := testphone.New("+495136123456", "127.0.0.1")
	defer caller.Close()
	call, err := caller.Dial(ctx, s.sip.Addr().String(), "05136115", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := full.Wait(); err != nil {
		t.Errorf("sipp full (503): %v\n%s", err, readLogs(dir, "full"))
	}
	// Talk a moment on the overflow leg, then hang up.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if st := s.engine.Calls(ctx); len(st) == 1 && st[0].State == acd.StateConnected {
			break
		}
	}
	time.Sleep(300 * time.Millisecond) // a moment of talk (at least this long)
	_ = call.Bye(ctx)
	if err := ok.Wait(); err != nil {
		t.Errorf("sipp ok (uas): %v\n%s", err, readLogs(dir, "ok"))
	}
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 5*time.Second)
	if row["disposition"] != "overflowed" || row["overflow_target"] != "ok" || row["municipality"] != "burgdorf" {
		t.Errorf("cdr %v, want overflowed to ok", row)
	}
	msgs, _ := os.ReadFile(filepath.Join(dir, "ok-messages.log"))
	for _, want := range []string{"INVITE sip:+495136115@127.0.0.1", "X-115-Municipality: burgdorf", "Diversion: <sip:+495136115@", "P-Asserted-Identity: <sip:+495136123456@", "X-115-Waited: "} {
		if !strings.Contains(string(msgs), want) {
			t.Errorf("the answering center's INVITE lacks %q", want)
		}
	}
}

// TestSippBlindTransfer (issue 14) with sipp on every side: sipp agent
// 1003 answers, talks 1 s and REFERs the caller; the municipal office
// behind the trunk is a sipp UAS. To the department key: 202, NOTIFY 100
// then 200, sc115's BYE of the agent's leg, the office answered and ended
// by the caller's BYE; the row names the transfer. With a Refer-To that is
// no URI: 400 and the call goes on with the agent until the caller hangs
// up. Every sipp must finish its scenario without error.
func TestSippBlindTransfer(t *testing.T) {
	sipp := interop.Require(t, "sipp", "sip-tester")
	for _, c := range []struct {
		name, referTo string
		expect        int
		toAgent       bool   // agent 1001, a second sipp phone, takes the caller
		target        string // the row's transfer_target
	}{
		{"department", "<sip:buergerbuero@[remote_ip]:[remote_port]>", 202, false, "+4951361890"},
		{"agent", "<sip:1001@[remote_ip]:[remote_port]>", 202, true, "agent:1001"},
		{"queue", "<sip:queue-burgdorf@[remote_ip]:[remote_port]>", 202, true, "queue:burgdorf"},
		{"bad-refer-to", "this is no uri", 400, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			officePort := interop.FreePort(t, "udp")
			cfg := transferConfig(t, "127.0.0.1:"+strconv.Itoa(officePort))
			s := startTest(t, cfg)
			target := s.sip.Addr().String()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			uasPort := interop.FreePort(t, "udp")
			runSipp(ctx, t, sipp, dir, "register", "-sf", "testdata/sipp/agent-register.xml", "-m", "1",
				"-au", "1003", "-ap", "demo1003", "-key", "agent", "1003", "-key", "uasport", strconv.Itoa(uasPort), target)
			scen := filepath.Join(dir, "agent.xml")
			renderTemplate(t, "testdata/sipp/agent-refer.xml.tmpl", scen, map[string]any{"TalkMS": 1000, "ReferTo": c.referTo, "Expect": c.expect})
			agent := startSipp(ctx, t, sipp, dir, "agent", "-sf", scen, "-m", "1", "-p", strconv.Itoa(uasPort),
				"-mp", strconv.Itoa(interop.FreeMediaPort(t)), "-rtp_echo", target)
			var office *exec.Cmd // the office behind the trunk, or agent 1001's phone
			switch {
			case c.toAgent:
				second := interop.FreePort(t, "udp")
				runSipp(ctx, t, sipp, dir, "register2", "-sf", "testdata/sipp/agent-register.xml", "-m", "1",
					"-au", "1001", "-ap", "demo1001", "-key", "agent", "1001", "-key", "uasport", strconv.Itoa(second), target)
				waitAgent(t, s, "1001", acd.AgentAvailable)
				_ = s.engine.Pause("1001", "break") // the caller goes to 1003 first
				office = startSipp(ctx, t, sipp, dir, "office", "-sf", "testdata/sipp/agent-answer.xml", "-m", "1", "-p", strconv.Itoa(second),
					"-mp", strconv.Itoa(interop.FreeMediaPort(t)), "-rtp_echo", target)
			case c.expect == 202:
				office = startSipp(ctx, t, sipp, dir, "office", "-sf", "testdata/sipp/agent-answer.xml", "-m", "1", "-p", strconv.Itoa(officePort),
					"-mp", strconv.Itoa(interop.FreeMediaPort(t)), "-rtp_echo", target)
			}
			if c.toAgent {
				go func() { // 1001 is ready once the caller talks with 1003
					for ctx.Err() == nil && s.engine.AgentStates()["1003"] != acd.AgentOnCall {
						time.Sleep(10 * time.Millisecond)
					}
					_ = s.engine.Ready("1001")
				}()
			}
			audio := filepath.Join(dir, "tone.ulaw")
			writeTone(t, audio, 1000, 6*time.Second)
			callerScen := filepath.Join(dir, "caller.xml")
			renderTemplate(t, "testdata/sipp/caller.xml.tmpl", callerScen, map[string]any{"Number": "05136115", "Audio": audio, "TalkMS": 4000})
			runSipp(ctx, t, sipp, dir, "caller", "-sf", callerScen, "-m", "1", "-mp", strconv.Itoa(interop.FreeMediaPort(t)), target)
			if err := agent.Wait(); err != nil {
				t.Fatalf("sipp agent: %v\n%s", err, readLogs(dir, "agent"))
			}
			if office != nil {
				if err := office.Wait(); err != nil {
					t.Fatalf("sipp office: %v\n%s", err, readLogs(dir, "office"))
				}
			}
			var rows []map[string]string
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && len(rows) == 0; time.Sleep(50 * time.Millisecond) {
				rows = readCDRs(t, cfg.CDR.Dir)
			}
			if len(rows) != 1 {
				t.Fatalf("rows %v", rows)
			}
			r := rows[0]
			want := map[string]string{"disposition": "answered", "agent": "1003", "transfer_kind": "", "transfer_target": ""}
			if c.expect == 202 {
				want["transfer_kind"], want["transfer_target"], want["transferred_by"], want["hangup_by"] = "blind", c.target, "1003", "caller"
			}
			if c.name == "queue" {
				want["transfer_kind"] = "queue"
			}
			if c.toAgent && !strings.HasPrefix(r["agent_segments"], "1003:") || c.toAgent && !strings.Contains(r["agent_segments"], ";1001:") {
				t.Errorf("agent_segments %q, want 1003 then 1001", r["agent_segments"])
			}
			for k, v := range want {
				if r[k] != v {
					t.Errorf("%s = %q, want %q (row %v)", k, r[k], v, r)
				}
			}
		})
	}
}
