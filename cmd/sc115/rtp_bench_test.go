package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/interop"
)

// BenchmarkCallsWithRTP (issue 18): CPU per call of the real binary at
// 200 calls/s through answer, greeting, queue, agent and bridge, RTP both
// ways — the method BENCHMARKS.md uses for Asterisk: sipp callers stream
// a tone from answer to hang-up, hear Burgdorf's greeting cut to 1.4 s,
// one sipp answers for 1,000 registered agents, echoes their audio
// (-rtp_echo) and hangs up after 3 s. sc115 runs
// on the example config (always open, no wrap-up) with a real
// redis-server, as `sc115 serve` in its own process; path=kernel with
// media.kernel_forwarding on, path=user with it off.
//
// It reports sc115's CPU per call (/proc/PID/stat), the sipp processes'
// and the sum (with kernel forwarding a relayed packet's cost is paid in
// the sending sipp's sendto on loopback, not in sc115: the sum says what
// the machine saved), the calls answered by an agent (CDRs) and the calls
// sipp counted failed.
//
//	go test -run '^$' -bench CallsWithRTP -benchtime 1x ./cmd/sc115/
func BenchmarkCallsWithRTP(b *testing.B) {
	for _, path := range []string{"kernel", "user"} {
		b.Run("path="+path, func(b *testing.B) { benchCallsWithRTP(b, path, 200, 15*time.Second) })
	}
}

func benchCallsWithRTP(b *testing.B, path string, rate int, d time.Duration) {
	const agents, first = 1000, 3000
	sipp := interop.Require(b, "sipp", "sip-tester")
	redisURL := interop.RedisServer(b)
	bin := buildBinary(b)
	prompts := shortGreetingPrompts(b, "greeting-burgdorf.wav", 1400*time.Millisecond)
	mode := map[string]string{"kernel": "on", "user": "off"}[path]
	cfgPath := writeConfig(b, func(s string) string {
		var lines strings.Builder
		for u := first; u < first+agents; u++ {
			fmt.Fprintf(&lines, "    - {id: \"%d\", name: \"Agent %d\", sip_user: \"%d\", password: pw%d, skills: {burgdorf: 5}}\n", u, u, u, u)
		}
		s = regexp.MustCompile(`(?m)^(    - \{id: "1006".*\n)`).ReplaceAllString(s, "${1}"+lines.String())
		s = strings.Replace(s, "kernel_forwarding: auto", "kernel_forwarding: "+mode, 1)
		s = regexp.MustCompile(`(?m)^  prompts_dir: .*$`).ReplaceAllString(s, "  prompts_dir: "+prompts)
		s = strings.Replace(s, `redis: ""`, fmt.Sprintf("redis: %q", redisURL), 1)
		return strings.Replace(alwaysOpen(s), "wrapup: 30s", "wrapup: 0s", 1)
	})
	dir, cdrDir := b.TempDir(), b.TempDir()
	sipPort := interop.FreeUDPTCPPort(b)
	target := fmt.Sprintf("127.0.0.1:%d", sipPort)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", interop.FreePort(b, "tcp"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	serve, banner := serveBinary(ctx, b, bin, cfgPath, target, httpAddr, "20000-29999", cdrDir, "rtp-bench")
	defer func() { _ = serve.Process.Kill(); _ = serve.Wait() }()

	uasPort := interop.FreePort(b, "udp")
	talk := filepath.Join(dir, "talk.xml")
	renderTemplate(b, "testdata/sipp/talk-and-hang-up.xml.tmpl", talk, map[string]any{"TalkMS": 3000})
	agentsSipp := quietSipp(ctx, b, sipp, dir, "agents", false, "-sf", talk, "-p", strconv.Itoa(uasPort),
		"-mp", strconv.Itoa(interop.FreeMediaPort(b)), "-rtp_echo", "-max_recv_loops", "10000", target)
	defer func() { _ = agentsSipp.Process.Kill(); _, _ = agentsSipp.Process.Wait() }()
	var users strings.Builder
	users.WriteString("SEQUENTIAL\n")
	for u := first; u < first+agents; u++ {
		fmt.Fprintf(&users, "%d;[authentication username=%d password=pw%d]\n", u, u, u)
	}
	usersFile := filepath.Join(dir, "agents.csv")
	if err := os.WriteFile(usersFile, []byte(users.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	runSipp(ctx, b, sipp, dir, "register", "-sf", "testdata/sipp/register-csv.xml", "-timeout", "120s", "-inf", usersFile,
		"-m", strconv.Itoa(agents), "-r", "100", "-key", "uasport", strconv.Itoa(uasPort), target)
	for deadline := time.Now().Add(2 * time.Minute); scrapeMetric(httpAddr, `sc115_agents{state="available"}`) < agents; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%v of %d agents available two minutes after registering\n%s", scrapeMetric(httpAddr, `sc115_agents{state="available"}`), agents, banner)
		}
	}

	audio := filepath.Join(dir, "speech.ulaw")
	writeTone(b, audio, 440, 60*time.Second)
	caller := filepath.Join(dir, "caller.xml")
	renderTemplate(b, "testdata/sipp/surge-caller.xml.tmpl", caller, map[string]any{"Number": "05136115", "Audio": audio, "MaxCallMS": 60000})
	calls := rate * int(d.Seconds())
	pid := serve.Process.Pid
	cpu0, agents0 := procCPU(b, pid), procCPU(b, agentsSipp.Process.Pid)
	b.ResetTimer()
	callers := quietSipp(ctx, b, sipp, dir, "callers", true, "-sf", caller, "-m", strconv.Itoa(calls), "-r", strconv.Itoa(rate),
		"-l", "5000", "-mp", strconv.Itoa(interop.FreeMediaPort(b)),
		"-trace_stat", "-stf", filepath.Join(dir, "callers-stat.csv"), "-fd", "1", target)
	b.StopTimer()
	cpu := procCPU(b, pid) - cpu0
	peers := procCPU(b, agentsSipp.Process.Pid) - agents0 + callers.ProcessState.UserTime() + callers.ProcessState.SystemTime()
	kernelPackets := scrapeMetric(httpAddr, "sc115_media_kernel_packets_total")

	var rows []map[string]string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if rows = readCDRs(b, cdrDir); len(rows) >= calls || time.Now().After(deadline) {
			break
		}
	}
	answered := 0
	for _, r := range rows {
		if r["disposition"] == "answered" {
			answered++
		}
	}
	stat := sippFinalStats(b, filepath.Join(dir, "callers-stat.csv"))
	ms := func(t time.Duration) float64 { return float64(t.Microseconds()) / 1000 / float64(calls) }
	b.ReportMetric(float64(rate), "calls/s")
	b.ReportMetric(ms(cpu), "sc115_cpu_ms/call")
	b.ReportMetric(ms(peers), "sipp_cpu_ms/call")
	b.ReportMetric(ms(cpu+peers), "total_cpu_ms/call")
	b.ReportMetric(100*float64(answered)/float64(calls), "%answered")
	b.ReportMetric(float64(stat["FailedCall(C)"]), "sipp_failed")
	b.ReportMetric(kernelPackets, "kernel_packets")
	if path == "kernel" && kernelPackets == 0 {
		b.Errorf("media.kernel_forwarding on, and the kernel forwarded no packet")
	}
}

// procCPU is a process' CPU time so far (user + system, /proc/PID/stat).
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(data), ") ") // the command may hold spaces
	f := strings.Fields(rest)                     // state is field 3: utime 14 and stime 15 are f[11], f[12]
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// shortGreetingPrompts is a copy of the shipped prompts with one cut to d
// (8 kHz 16-bit mono: 16 bytes a millisecond after the 44-byte header).
func shortGreetingPrompts(b *testing.B, name string, d time.Duration) string {
	dir := b.TempDir()
	files, _ := filepath.Glob("../../prompts/de/*.wav")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if filepath.Base(f) == name {
			n := int(d.Milliseconds()) * 16
			data = data[:44+n]
			binary.LittleEndian.PutUint32(data[4:], uint32(36+n))
			binary.LittleEndian.PutUint32(data[40:], uint32(n))
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}
