package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/rs/zerolog"
	"github.com/zaf/g711"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/testcert"
	"github.com/sc115/sc115/internal/testphone"
)

// testConfig loads the shipped Region Hannover example and moves every
// listener to a free loopback port, CDRs to a temp dir, and shortens timers.
func testConfig(t *testing.T) Config { return testConfigB(t) }

// testConfigB is testConfig for tests and benchmarks alike.
func testConfigB(t testing.TB) Config {
	t.Helper()
	lc, err := loadConfig("../../deploy/examples/region-hannover.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.validate(); err != nil {
		t.Fatal(err)
	}
	c := lc.Config
	c.SIP.Listen = "127.0.0.1:0"
	c.SIP.Trunks[0].Allow = []string{"127.0.0.1/32"}
	c.HTTP.Listen = "127.0.0.1:0"
	c.Media.PromptsDir = "../../prompts/de"
	c.Media.RTPPorts = "30000-39999"
	c.CDR.Dir = t.TempDir()
	c.ACD.Queue.RingTimeout = 3 * time.Second
	c.ACD.Queue.Wrapup = 300 * time.Millisecond
	c.ACD.Queue.NoAnswerRest = 500 * time.Millisecond
	c.ACD.DrainTime = 2 * time.Second
	c.ACD.Hours = acd.AlwaysOpen() // the example's Mon–Fri 08–18 would close tests run at night
	// The example's greetings last 10 s and are heard in full by default:
	// the suite's calls reach their agents at once instead (TestGreetingModes
	// checks both modes).
	for i := range c.ACD.Municipalities {
		c.ACD.Municipalities[i].GreetingMode = acd.GreetingInterruptible
	}
	c.Instance = "test-1"
	return c
}

// freeRTPRange picks a 200-port range per test so parallel packages do not collide.
func freeRTPRange(t testing.TB) string {
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := l.LocalAddr().(*net.UDPAddr).Port
	low := 30000 + (p%100)*200
	return fmt.Sprintf("%d-%d", low, low+199)
}

func startTest(t *testing.T, c Config) *service {
	t.Helper()
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: w}).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	s, err := start(c, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.shutdown(true) })
	return s
}

// readCDRs returns the rows (as maps by column) of all CDR files in dir.
func readCDRs(t testing.TB, dir string) []map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	var rows []map[string]string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(recs) == 0 {
			continue // just created, header not yet written
		}
		for _, r := range recs[1:] {
			m := map[string]string{}
			for i, h := range recs[0] {
				m[h] = r[i]
			}
			rows = append(rows, m)
		}
	}
	return rows
}

// waitCDR waits until a row for callID exists.
func waitCDR(t *testing.T, dir, callID string, within time.Duration) map[string]string {
	t.Helper()
	within = max(within, 30*time.Second) // a deadline, not a speed: a busy machine writes it late
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, r := range readCDRs(t, dir) {
			if r["call_id"] == callID {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no CDR for call %s within %v", callID, within)
	return nil
}

func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func metricLine(body, prefix string) string {
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// burgdorfCaller is a caller (+495136123456, A-law) whose call to Burgdorf
// has been answered by sc115; closing the phone is the test's.
func burgdorfCaller(ctx context.Context, t *testing.T, target string) (*testphone.Phone, *testphone.Call) {
	t.Helper()
	caller, err := testphone.New("+495136123456", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	call, err := caller.Dial(ctx, target, "05136115", []string{"8 PCMA/8000"})
	if err != nil {
		caller.Close()
		t.Fatal(err)
	}
	return caller, call
}

// agentPhone starts a test phone for demo agent id (password demo<id>),
// registers it at target and closes it when the test ends.
func agentPhone(ctx context.Context, t *testing.T, target, id string) *testphone.Phone {
	t.Helper()
	ph, err := testphone.New(id, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ph.Close)
	if res, err := ph.Register(ctx, target, "demo"+id, 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("register %s: %v %v", id, res, err)
	}
	return ph
}

// callAnsweredBy registers agent id's phone at target, calls Burgdorf
// (whose queue the agent serves) and returns the call and the agent's
// answered leg, bridged: they have heard each other. The phones close
// when the test ends.
func callAnsweredBy(ctx context.Context, t *testing.T, target, id string) (*testphone.Phone, *testphone.Call, *testphone.Incoming) {
	t.Helper()
	agent := agentPhone(ctx, t, target, id)
	caller, call := burgdorfCaller(ctx, t, target)
	t.Cleanup(caller.Close)
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	talkBothWays(t, call, in, nil)
	return agent, call, in
}

// talkBothWays has the caller (A-law) and the agent (µ-law) speak
// talkFrames for a second at once, and waits until each heard the other
// (transcoded). during, if set, runs alongside (an attacker).
func talkBothWays(t *testing.T, call *testphone.Call, in *testphone.Incoming, during func()) {
	t.Helper()
	callerFrame, agentFrame := talkFrames()
	done := make(chan error, 1)
	go func() { done <- in.RTP.Send(0, agentFrame, 50) }()
	if during != nil {
		go during()
	}
	if err := call.RTP.Send(8, callerFrame, 50); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitHeard(t, "agent", in.RTP.Received, 0, g711.Alaw2Ulaw(callerFrame), 48)
	waitHeard(t, "caller", call.RTP.Received, 8, g711.Ulaw2Alaw(agentFrame), 48)
}

// forgedFrame is the audio a third party injects: no prompt or talk frame has it.
var forgedFrame = bytes.Repeat([]byte{0xEE}, 160)

// sprayForged sends n plain RTP packets of forgedFrame from ip to to,
// and returns the socket (closed when the test ends) to read from.
func sprayForged(t *testing.T, ip string, to netip.AddrPort, n int) *net.UDPConn {
	t.Helper()
	attacker, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { attacker.Close() })
	sprayFrom(attacker, to, n)
	return attacker
}

// sprayFrom sends n forged packets from conn to to.
func sprayFrom(conn *net.UDPConn, to netip.AddrPort, n int) {
	for i := range n {
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 0x666}, Payload: forgedFrame}).Marshal()
		_, _ = conn.WriteToUDPAddrPort(b, to)
	}
}

// heardForged reports whether got holds the forged frame as an agent on
// µ-law hears it.
func heardForged(got []testphone.Packet) bool {
	for _, p := range got {
		if string(p.Payload) == string(g711.Alaw2Ulaw(forgedFrame)) {
			return true
		}
	}
	return false
}

// tlsTestConfig is testConfig with SIP over TLS on a free port, its
// certificate from a throw-away CA (returned, for the clients).
func tlsTestConfig(t *testing.T) (Config, testcert.Files) {
	t.Helper()
	certs := testcert.Write(t, t.TempDir())
	cfg := testConfig(t)
	cfg.SIP.TLS.Listen, cfg.SIP.TLS.CertFile, cfg.SIP.TLS.KeyFile = "127.0.0.1:0", certs.Cert, certs.Key
	return cfg, certs
}
