package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/interop"
)

// BenchmarkSurge (issue 13, 6) offers 2× and 4× the calls the agents can
// take — a crisis surge — from sipp callers with RTP, to agents that are
// sipp phones echoing the audio and hanging up after a talk time, with the
// federation (another sipp) taking overflow. It reports how every caller
// ended (answered by an agent, overflowed, busy or 503 — "failed" counts
// calls that ended otherwise or have no CDR row), the INVITE→200 p99 of
// admitted calls, the process' peak RSS and its CPU per offered call.
// sc115 runs in this process with a real redis-server; sipp in its own
// processes. Run with -benchtime 1x (see BENCHMARKS.md).
func BenchmarkSurge(b *testing.B) {
	for _, load := range []int{2, 4} {
		b.Run(fmt.Sprintf("load=%dx", load), func(b *testing.B) { benchSurge(b, load) })
	}
}

const (
	surgeAgents   = 150
	surgeTalk     = 3 * time.Second
	surgeDuration = 20 * time.Second
	surgeFedMax   = 150 // concurrent calls the neighbour center takes
)

func benchSurge(b *testing.B, load int) {
	sipp := interop.Require(b, "sipp", "sip-tester")
	capacity := float64(surgeAgents) / surgeTalk.Seconds() // calls/s the agents can take
	rate := capacity * float64(load)
	dir := b.TempDir()

	cfg := testConfigB(b)
	cfg.Queue.Redis = interop.RedisServer(b)
	cfg.ACD.Queue.Wrapup = 0
	cfg.ACD.Queue.RingTimeout = 5 * time.Second
	cfg.ACD.DefaultHandleTime = surgeTalk
	cfg.ACD.MaxNewCallsPerSecond = 3 * capacity // beyond 3×: 503 at once
	cfg.ACD.MaxCalls = 1500
	cfg.Media.FirstPacketTimeout = 10 * time.Second
	fedPort, uasPort := interop.FreePort(b, "udp"), interop.FreePort(b, "udp")
	cfg.ACD.Federation = []acd.FederationTarget{{Name: "nachbar", URI: "sip:115@127.0.0.1:" + strconv.Itoa(fedPort), MaxCalls: surgeFedMax}}
	for i := range cfg.ACD.Municipalities {
		if cfg.ACD.Municipalities[i].Key == "burgdorf" {
			cfg.ACD.Municipalities[i].Overflow = &acd.OverflowRules{MaxEWT: 10 * time.Second, MaxWait: 20 * time.Second, OnFailure: "busy"}
		}
	}
	var users strings.Builder
	users.WriteString("SEQUENTIAL\n")
	cfg.ACD.Agents = nil
	for i := 0; i < surgeAgents; i++ {
		id := strconv.Itoa(3000 + i)
		cfg.ACD.Agents = append(cfg.ACD.Agents, acd.Agent{ID: id, SIPUser: id, Password: "pw" + id, Skills: map[string]int{"burgdorf": 5}})
		fmt.Fprintf(&users, "%s;[authentication username=%s password=pw%s]\n", id, id, id)
	}
	s := startBench(b, cfg)
	target := s.sip.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	talkScen := filepath.Join(dir, "talk.xml")
	renderTemplate(b, "testdata/sipp/talk-and-hang-up.xml.tmpl", talkScen, map[string]any{"TalkMS": surgeTalk.Milliseconds()})
	agents := quietSipp(ctx, b, sipp, dir, "agents", false, "-sf", talkScen, "-p", strconv.Itoa(uasPort),
		"-mp", strconv.Itoa(interop.FreeMediaPort(b)), "-rtp_echo", "-max_recv_loops", "10000", target)
	fed := quietSipp(ctx, b, sipp, dir, "federation", false, "-sf", talkScen, "-p", strconv.Itoa(fedPort),
		"-mp", strconv.Itoa(interop.FreeMediaPort(b)), "-rtp_echo", target)
	usersFile := filepath.Join(dir, "agents.csv")
	if err := os.WriteFile(usersFile, []byte(users.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	runSipp(ctx, b, sipp, dir, "register", "-sf", "testdata/sipp/register-csv.xml", "-timeout", "60s", "-inf", usersFile,
		"-m", strconv.Itoa(surgeAgents), "-r", "50", "-key", "uasport", strconv.Itoa(uasPort), target)
	available := func() int {
		n := 0
		for _, st := range s.engine.AgentStates() {
			if st == acd.AgentAvailable {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(time.Minute); available() < surgeAgents; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d agents available a minute after registering", available(), surgeAgents)
		}
	}

	audio := filepath.Join(dir, "speech.ulaw")
	writeTone(b, audio, 440, 60*time.Second)
	callerScen := filepath.Join(dir, "caller.xml")
	renderTemplate(b, "testdata/sipp/surge-caller.xml.tmpl", callerScen, map[string]any{"Number": "05136115", "Audio": audio, "MaxCallMS": 90000})
	calls := int(rate * surgeDuration.Seconds())
	peak := sampleRSS()
	cpu0 := cpuTime()
	b.ResetTimer()
	quietSipp(ctx, b, sipp, dir, "callers", true, "-sf", callerScen, "-m", strconv.Itoa(calls), "-r", strconv.FormatFloat(rate, 'f', 1, 64),
		"-l", "5000", "-mp", strconv.Itoa(interop.FreeMediaPort(b)), "-trace_rtt", "-rtt_freq", "1",
		"-trace_stat", "-stf", filepath.Join(dir, "callers-stat.csv"), "-fd", "1", target)
	b.StopTimer()
	cpuPerCall := (cpuTime() - cpu0).Seconds() * 1000 / float64(calls)
	peakRSS := peak()
	_ = agents.Process.Kill()
	_ = fed.Process.Kill()
	_, _ = agents.Process.Wait()
	_, _ = fed.Process.Wait()

	// Every caller's row: wait until the wrap-ups (0 s) are written.
	var rows []map[string]string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		rows = readCDRs(b, cfg.CDR.Dir)
		if len(rows) >= calls || time.Now().After(deadline) {
			break
		}
	}
	by := map[string]int{}
	for _, r := range rows {
		by[r["disposition"]]++
	}
	stat := sippFinalStats(b, filepath.Join(dir, "callers-stat.csv"))
	refused := 0 // 503 + Retry-After before answering (admission)
	for _, r := range rows {
		if r["disposition"] == "rejected_busy" && r["sip_code"] == "503" {
			refused++
		}
	}
	failed := calls - by["answered"] - by["overflowed"] - by["rejected_busy"]
	p99 := sippRTTPercentile(b, dir, 0.99)
	pct := func(n int) float64 { return 100 * float64(n) / float64(calls) }
	b.ReportMetric(rate, "calls/s")
	b.ReportMetric(pct(by["answered"]), "%answered")
	b.ReportMetric(pct(by["overflowed"]), "%overflowed")
	b.ReportMetric(pct(by["rejected_busy"]-refused), "%busy")
	b.ReportMetric(pct(refused), "%503")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(float64(stat["FailedCall(C)"]), "sipp_failed")
	b.ReportMetric(p99, "p99_setup_ms")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak_RSS_MB")
	b.ReportMetric(cpuPerCall, "cpu_ms/call")
	b.Logf("%d calls at %.0f/s (agents' capacity %.0f/s): rows %v; sipp %v", calls, rate, capacity, by, stat)
}

// quietSipp runs sipp on loopback for a benchmark: errors traced, no
// message log (thousands of calls), ended by itself within 10 minutes.
// With wait it returns when sipp has finished, failing on an error exit
// (1: some calls failed — counted by the benchmark, not fatal).
func quietSipp(ctx context.Context, b *testing.B, sipp, dir, name string, wait bool, args ...string) *exec.Cmd {
	b.Helper()
	base := []string{"-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin", "-timeout", "600s",
		"-trace_err", "-error_file", filepath.Join(dir, name+"-errors.log")}
	cmd := exec.CommandContext(ctx, sipp, append(base, args...)...)
	cmd.Dir = dir
	if !wait {
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for i, a := range args {
			if a == "-p" && i+1 < len(args) {
				port, _ := strconv.Atoi(args[i+1])
				interop.WaitUDPBound(b, port, 30*time.Second)
			}
		}
		return cmd
	}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 1) {
		errs, _ := os.ReadFile(filepath.Join(dir, name+"-errors.log"))
		b.Fatalf("sipp %s: %v\n%s\n%s", name, err, lastLines(string(out), 20), lastLines(string(errs), 40))
	}
	return cmd
}

// sippFinalStats reads the last line of a sipp -trace_stat file.
func sippFinalStats(b *testing.B, path string) map[string]int {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil || len(recs) < 2 {
		b.Fatalf("%s: %v (%d lines)", path, err, len(recs))
	}
	out := map[string]int{}
	last := recs[len(recs)-1]
	for i, h := range recs[0] {
		if i < len(last) {
			if n, err := strconv.Atoi(last[i]); err == nil {
				out[h] = n
			}
		}
	}
	return out
}

// sippRTTPercentile is the q-quantile in ms of the response times sipp
// traced (-trace_rtt: INVITE to 200 of the answered calls).
func sippRTTPercentile(b *testing.B, dir string, q float64) float64 {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*_rtt.csv"))
	var ms []float64
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Split(line, ";")
			if len(f) >= 2 {
				if v, err := strconv.ParseFloat(f[1], 64); err == nil {
					ms = append(ms, v)
				}
			}
		}
	}
	if len(ms) == 0 {
		b.Fatal("sipp traced no response times")
	}
	slices.Sort(ms)
	return ms[min(len(ms)-1, int(q*float64(len(ms))))]
}

// sampleRSS samples this process' resident memory every 100 ms until the
// returned function is called, which returns the peak.
func sampleRSS() func() int64 {
	stop := make(chan struct{})
	done := make(chan int64)
	go func() {
		var peak int64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v := rss(); v > peak {
				peak = v
			}
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(stop); return <-done }
}

// rss is this process' resident set size in bytes (Linux).
func rss() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// cpuTime is the CPU (user + system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
