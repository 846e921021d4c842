package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/acd"
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
