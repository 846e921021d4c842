package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
)

// Loopback addresses of the Kamailio test (deploy/kamailio): the trunk
// (the 115 network's PBX) calls from trunkIP; Kamailio listens for it and
// the phones on 127.0.0.1 and relays to sc115 from trunkRelayIP (the only
// trunk sc115 knows) and phoneRelayIP (an exempt proxy).
const (
	trunkIP      = "127.0.0.4"
	trunkRelayIP = "127.0.0.2"
	phoneRelayIP = "127.0.0.3"
	probeSeconds = 1
)

// TestKamailioInFront (issue 13) puts a real kamailio with the shipped
// dispatcher config in front of two sc115 instances sharing a real Redis —
// one in this process, one the real binary — and checks what the front
// promises: calls from the trunk spread over both and reach agents whose
// phones registered through Kamailio; kill -9 of one instance with live
// calls leaves each of its calls one row, written by the survivor, and new
// calls go on; SIGTERM of an instance takes it out of the dispatcher
// within the probing interval while its live call goes on to the end.
func TestKamailioInFront(t *testing.T) {
	redisSrv := interop.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(redisSrv.URL, "redis://"), "/0")})
	defer rdb.Close()
	bin := buildBinary(t)
	pa, pb := interop.FreeUDPTCPPort(t), interop.FreeUDPTCPPort(t)

	cfg := testConfig(t)
	cfg.SIP.Listen = "127.0.0.1:" + strconv.Itoa(pa)
	cfg.SIP.Trunks[0].Allow = []string{trunkRelayIP + "/32"}
	cfg.SIP.Limits.Exempt = []string{phoneRelayIP + "/32"}
	cfg.Queue.Redis = redisSrv.URL
	cfg.Instance = "kam-a"
	a := startTest(t, cfg)
	b := startBinaryInstance(t, bin, "kam-b", pb, redisSrv.URL)

	waitAnswersOptions(t, pa)
	waitAnswersOptions(t, pb)
	kport := interop.FreePort(t, "udp")
	k := startFrontKamailio(t, kport, pa, pb)
	front := "127.0.0.1:" + strconv.Itoa(kport)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var phones []*testphone.Phone
	for _, id := range []string{"1001", "1003", "1006"} { // Burgdorf's agents
		phones = append(phones, agentPhone(ctx, t, front, id))
	}
	caller, err := testphone.New("+495136123456", trunkIP)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	dirs := []string{a.cfg.CDR.Dir, b.cdrDir}

	// 1. Calls spread over both instances and reach agents through the proxy.
	var onA, onB int
	for i := 0; i < 6 && (onA == 0 || onB == 0 || i < 4); i++ {
		call, err := caller.Dial(ctx, front, "05136115", []string{"8 PCMA/8000"})
		if err != nil {
			t.Fatalf("call %d through Kamailio: %v", i, err)
		}
		in := anyIncoming(ctx, t, phones)
		talkBothWays(t, call, in, nil)
		if err := call.Bye(ctx); err != nil {
			t.Fatalf("BYE through Kamailio: %v", err)
		}
		row := waitCDRIn(t, dirs, call.CallID, 30*time.Second)
		if row["disposition"] != "answered" || row["agent"] == "" {
			t.Fatalf("call %d: row %v, want answered by an agent", i, row)
		}
		switch row["instance"] {
		case "kam-a":
			onA++
		case "kam-b":
			onB++
		}
	}
	if onA == 0 || onB == 0 {
		t.Fatalf("calls on kam-a %d, on kam-b %d: Kamailio did not spread them", onA, onB)
	}
	t.Logf("spread: %d calls answered on kam-a, %d on kam-b", onA, onB)

	// A guesser behind the same proxy locks out itself, not the real phone
	// (sc115 counts the address in the Via Kamailio checked).
	guesser, err := testphone.New("1003", "127.0.0.5")
	if err != nil {
		t.Fatal(err)
	}
	defer guesser.Close()
	for i := 0; i < 25; i++ {
		if res, err := guesser.Register(ctx, front, "guess"+strconv.Itoa(i), 300); err != nil || res.StatusCode != 403 {
			t.Fatalf("guess %d: %v %v, want 403", i, res, err)
		}
	}
	if res, err := phones[1].Register(ctx, front, "demo1003", 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("the real 1003 after 25 wrong guesses through the same proxy: %v %v, want 200", res, err)
	}

	// 2. kill -9 of kam-b with live calls.
	var live []*testphone.Call
	for i := 0; i < 4; i++ {
		call, err := caller.Dial(ctx, front, "05136115", []string{"8 PCMA/8000"})
		if err != nil {
			t.Fatalf("live call %d: %v", i, err)
		}
		live = append(live, call)
	}
	ofB, err := rdb.SMembers(ctx, "{sc}:calls:kam-b").Result()
	if err != nil || len(ofB) == 0 {
		t.Fatalf("kam-b owns calls %v (%v): want some of the live ones", ofB, err)
	}
	killed := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = b.cmd.Wait()
	for _, id := range ofB {
		row := waitCDRIn(t, dirs[:1], id, time.Minute) // in kam-a's files: kam-b is dead
		if row["instance"] != "kam-b" || row["hangup_by"] != "instance-lost" {
			t.Errorf("call %s of the killed instance: row %v, want kam-b's call, ended by instance-lost", id, row)
		}
	}
	t.Logf("kill -9: the %d calls of kam-b had their rows %v after the kill", len(ofB), time.Since(killed).Round(100*time.Millisecond))
	// New calls go on: phones re-register (through Kamailio, now to kam-a)
	// and a new call reaches an agent.
	for i, id := range []string{"1001", "1003", "1006"} {
		if res, err := phones[i].Register(ctx, front, "demo"+id, 300); err != nil || res.StatusCode != 200 {
			t.Fatalf("re-register %s after the kill: %v %v", id, res, err)
		}
	}
	for _, c := range live {
		_ = c.Bye(ctx) // those of kam-b time out: nobody is there
	}
	drainIncoming(phones)
	after, err := caller.Dial(ctx, front, "05136115", []string{"8 PCMA/8000"})
	if err != nil {
		t.Fatalf("new call after the kill: %v", err)
	}
	talkBothWays(t, after, anyIncoming(ctx, t, phones), nil)
	_ = after.Bye(ctx)
	if row := waitCDRIn(t, dirs, after.CallID, 30*time.Second); row["instance"] != "kam-a" || row["disposition"] != "answered" {
		t.Errorf("call after the kill: %v, want answered on kam-a", row)
	}
	for _, c := range live {
		waitCDRIn(t, dirs, c.CallID, 30*time.Second)
	}
	assertOneRowPerCall(t, dirs)

	// 3. SIGTERM: a second binary on kam-b's port, taken into the
	// dispatcher again by its OPTIONS, drained out of it.
	b2 := startBinaryInstance(t, bin, "kam-b2", pb, redisSrv.URL)
	dirs = append(dirs, b2.cdrDir)
	var onB2 *testphone.Call
	for deadline := time.Now().Add(time.Minute); onB2 == nil; {
		call, err := caller.Dial(ctx, front, "05136115", []string{"8 PCMA/8000"})
		if err != nil {
			t.Fatalf("call while kam-b2 comes up: %v", err)
		}
		if owner, _ := rdb.HGet(ctx, "{sc}:call:"+call.CallID, "owner").Result(); owner == "kam-b2" {
			onB2 = call
			break
		}
		_ = call.Bye(ctx)
		if time.Now().After(deadline) {
			t.Fatal("a minute after kam-b2 started Kamailio still sends it no call")
		}
		time.Sleep(200 * time.Millisecond)
	}
	in := anyIncoming(ctx, t, phones)
	if err := b2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// At once, before any probe saw the drain: round-robin sends some of
	// these to kam-b2, which answers 503, and Kamailio fails over to kam-a.
	for i := 0; i < 4; i++ {
		call, err := caller.Dial(ctx, front, "05136115", []string{"8 PCMA/8000"})
		if err != nil {
			t.Fatalf("call %d right after SIGTERM: %v (no failover from the draining instance?)", i, err)
		}
		_ = call.Bye(ctx)
		if row := waitCDRIn(t, dirs, call.CallID, 30*time.Second); row["instance"] != "kam-a" && row["disposition"] != "rejected_busy" {
			t.Errorf("call right after SIGTERM: %v", row)
		}
	}
	time.Sleep(2 * probeSeconds * time.Second) // a probing interval and the answer to it
	var newCalls []string
	for i := 0; i < 4; i++ {
		call, err := caller.Dial(ctx, front, "05136115", []string{"8 PCMA/8000"})
		if err != nil {
			t.Fatalf("new call %d while kam-b2 drains: %v", i, err)
		}
		newCalls = append(newCalls, call.CallID)
		_ = call.Bye(ctx)
	}
	// The live call on the draining instance goes on: both still hear each other.
	talkBothWays(t, onB2, in, nil)
	if err := onB2.Bye(ctx); err != nil {
		t.Errorf("BYE of the call on the draining instance: %v", err)
	}
	if row := waitCDRIn(t, dirs, onB2.CallID, 30*time.Second); row["instance"] != "kam-b2" || row["disposition"] != "answered" {
		t.Errorf("the call that was live at SIGTERM: %v, want answered on kam-b2", row)
	}
	if err := waitExit(b2.cmd, time.Minute); err != nil {
		t.Errorf("kam-b2 after SIGTERM and its last call: %v, want exit 0", err)
	}
	for _, id := range newCalls {
		if row := waitCDRIn(t, dirs, id, 30*time.Second); row["instance"] != "kam-a" {
			t.Errorf("call %s placed a probing interval after SIGTERM: %v, want it on kam-a only", id, row)
		}
	}
	assertOneRowPerCall(t, dirs)
	log := k.Log()
	if strings.Contains(log, "CRITICAL") || strings.Contains(log, "ERROR") || strings.Contains(log, "failover support disabled") {
		t.Errorf("kamailio logged errors:\n%s", log)
	}
	t.Logf("Kamailio failed over to the next instance %d times", strings.Count(log, "next sc115 instance"))
}

// waitAnswersOptions waits (however long this machine takes) until the
// instance on port answers OPTIONS from the trunk relay address: it serves
// SIP, so Kamailio's first probe finds it up.
func waitAnswersOptions(t *testing.T, port int) {
	t.Helper()
	p := newRawPeer(t, trunkRelayIP, "127.0.0.1:"+strconv.Itoa(port))
	for deadline := time.Now().Add(time.Minute); ; {
		got := p.send("OPTIONS", "sip:sc115@127.0.0.1:"+strconv.Itoa(port), "<sip:probe@"+trunkRelayIP+">;tag=p", "<sip:sc115@127.0.0.1>",
			"probe-"+strconv.Itoa(port)+"-"+strconv.FormatInt(time.Now().UnixNano(), 10), 1, nil, "")
		if strings.HasPrefix(got, "SIP/2.0 200") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance on port %d does not answer OPTIONS: %s", port, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startFrontKamailio runs deploy/kamailio/kamailio.cfg with site settings
// for this test: public socket 127.0.0.1:kport, relay sockets on the relay
// addresses, the two instances in the dispatcher list, 1 s probing.
func startFrontKamailio(t *testing.T, kport int, instances ...int) *interop.Kamailio {
	t.Helper()
	dir := t.TempDir()
	cfg, err := os.ReadFile("../../deploy/kamailio/kamailio.cfg")
	if err != nil {
		t.Fatal(err)
	}
	p := strconv.Itoa(kport)
	local := fmt.Sprintf(`listen=udp:127.0.0.1:%[1]s
listen=udp:%[2]s:%[1]s
listen=udp:%[3]s:%[1]s
#!define PUBLIC_SOCKET "udp:127.0.0.1:%[1]s"
#!define TRUNK_RELAY_SOCKET "udp:%[2]s:%[1]s"
#!define PHONE_RELAY_SOCKET "udp:%[3]s:%[1]s"
#!define TRUNK_NETS "%[4]s/32"
#!define DISPATCHER_LIST "%[5]s"
#!define PROBE_INTERVAL %[6]d
#!define INVITE_TIMEOUT 1500
`, p, trunkRelayIP, phoneRelayIP, trunkIP, filepath.Join(dir, "dispatcher.list"), probeSeconds)
	var list strings.Builder
	for _, port := range instances {
		fmt.Fprintf(&list, "1 sip:127.0.0.1:%d 0 0\n", port)
	}
	for name, data := range map[string]string{"kamailio.cfg": string(cfg), "sc115-local.cfg": local, "dispatcher.list": list.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return interop.StartKamailio(t, dir, filepath.Join(dir, "kamailio.cfg"), kport)
}

// binaryInstance is the sc115 binary running `serve` for a test.
type binaryInstance struct {
	cmd    *exec.Cmd
	cdrDir string
}

// buildBinary compiles cmd/sc115 into the test's temp folder.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sc115")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startBinaryInstance runs the binary on the example config behind the
// test's Kamailio (trunk = the trunk relay address, exempt = the phone
// relay address), always open, 1 s wrap-up, on SIP port sipPort, and waits
// for its banner. It is killed when the test ends if still running.
func startBinaryInstance(t *testing.T, bin, instance string, sipPort int, redisURL string) *binaryInstance {
	t.Helper()
	path := writeConfig(t, func(s string) string {
		s = strings.Replace(s, "allow: [127.0.0.0/8]", "allow: ["+trunkRelayIP+"/32]", 1)
		s = strings.Replace(s, "exempt: []", "exempt: ["+phoneRelayIP+"/32]", 1)
		s = strings.Replace(alwaysOpen(s), "wrapup: 30s", "wrapup: 1s", 1)
		// Agents cut the 10 s greetings off (as in testConfig).
		s = regexp.MustCompile(`(?m)^\s+greeting_mode: .*\n`).ReplaceAllString(s, "")
		s = regexp.MustCompile(`(?m)^(\s+)greeting: (greeting-\w+\.wav)$`).ReplaceAllString(s, "${1}greeting: ${2}\n${1}greeting_mode: interruptible")
		return s
	})
	cdrDir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--config", path)
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("SC115_SIP_LISTEN=127.0.0.1:%d", sipPort),
		fmt.Sprintf("SC115_HTTP_LISTEN=127.0.0.1:%d", interop.FreePort(t, "tcp")),
		"SC115_RTP_PORTS="+freeRTPRange(t), "SC115_CDR_DIR="+cdrDir, "SC115_INSTANCE="+instance,
		"SC115_REDIS="+redisURL, "SC115_LOG_FORMAT=console")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.Contains(sc.Text(), "CDRs") {
	}
	go func() { _, _ = bufio.NewReader(stdout).WriteTo(devNull{}) }()
	return &binaryInstance{cmd: cmd, cdrDir: cdrDir}
}

// alwaysOpen makes the example config's text open around the clock, on
// every day (as make demo does).
func alwaysOpen(s string) string {
	s = regexp.MustCompile(`(?m)^    weekly: \{mon: "08:00-18:00".*$`).ReplaceAllString(s,
		`    weekly: {mon: "00:00-23:59", tue: "00:00-23:59", wed: "00:00-23:59", thu: "00:00-23:59", fri: "00:00-23:59", sat: "00:00-23:59", sun: "00:00-23:59"}`)
	s = strings.Replace(s, "holidays: NI", "holidays: none", 1)
	return strings.Replace(s, `closed_days: ["12-24", "12-31"]`, "closed_days: []", 1)
}

// waitExit waits for cmd to end by itself and returns how it ended.
func waitExit(cmd *exec.Cmd, within time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		_ = cmd.Process.Kill()
		return fmt.Errorf("still running after %v", within)
	}
}

// anyIncoming waits for the next call answered by any of the phones.
func anyIncoming(ctx context.Context, t *testing.T, phones []*testphone.Phone) *testphone.Incoming {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	got := make(chan *testphone.Incoming, len(phones))
	for _, p := range phones {
		go func() {
			if in, err := p.NextIncoming(ctx); err == nil {
				got <- in
				cancel()
			}
		}()
	}
	select {
	case in := <-got:
		return in
	case <-ctx.Done():
		select {
		case in := <-got:
			return in
		default:
		}
		t.Fatal("no agent phone got the call within a minute")
		return nil
	}
}

// drainIncoming forgets calls the phones answered that nobody waited for.
func drainIncoming(phones []*testphone.Phone) {
	for _, p := range phones {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			_, err := p.NextIncoming(ctx)
			cancel()
			if err != nil {
				break
			}
		}
	}
}

// waitCDRIn waits for callID's row in any of dirs.
func waitCDRIn(t *testing.T, dirs []string, callID string, within time.Duration) map[string]string {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, d := range dirs {
			for _, r := range readCDRs(t, d) {
				if r["call_id"] == callID {
					return r
				}
			}
		}
	}
	t.Fatalf("no CDR for call %s within %v", callID, within)
	return nil
}

// assertOneRowPerCall: no call has two rows across the instances, except
// a call refused 503 by one instance and answered by the next.
func assertOneRowPerCall(t *testing.T, dirs []string) {
	t.Helper()
	seen := map[string]int{}
	for _, d := range dirs {
		for _, r := range readCDRs(t, d) {
			if r["disposition"] != "rejected_busy" {
				seen[r["call_id"]]++
			}
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("call %s has %d rows", id, n)
		}
	}
}
