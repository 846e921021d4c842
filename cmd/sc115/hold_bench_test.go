package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/interop"
)

// BenchmarkHoldThroughBinary (issue 18): N callers on hold at once
// through the real binary, each streaming its own RTP to sc115 as a real
// caller does. `sc115 serve` runs on the example config (always open) in
// its own process; `sc115 simulate --measure-hold` in another places the
// calls at 250/s to Burgdorf, whose one agent is busy on the first call
// for the whole run, so every other caller hears the greeting and then
// hold music. Once all N are live it measures 30 s, then ends the
// callers. Reported: sc115's cores in that window, the frames a second
// each caller got (mean and lowest), the lateness of every generated
// frame from the generator's kernel receive timestamps (p50/p99/max,
// against each stream's earliest frame), and sc115's skipped frames and
// the frames it caught up (sent late, back to back, after a late wake).
// path=kernel has media.kernel_forwarding on (the callers' own audio is
// counted and dropped in the kernel), path=user off; send_batching on
// sends each clock phase's frames with one io_uring submission, off with
// one sendto each; clock_priority on runs the media clock on real-time
// threads. bare-sender is the physical limit in the same run: the same
// generator against a bare paced sender instead of sc115 (benchHoldBare).
//
//	go test -run '^$' -bench HoldThroughBinary -benchtime 1x ./cmd/sc115/
func BenchmarkHoldThroughBinary(b *testing.B) {
	for _, n := range []int{2000, 5000} {
		// sc115 as shipped (the real-time clock off), with it on, then
		// without each of the other measures of issue 18 in turn.
		for _, c := range []struct{ path, send, prio string }{
			{"kernel", "on", "off"}, {"kernel", "on", "on"}, {"kernel", "off", "off"}, {"user", "off", "off"},
		} {
			b.Run(fmt.Sprintf("callers=%d/path=%s/send_batching=%s/clock_priority=%s", n, c.path, c.send, c.prio), func(b *testing.B) {
				benchHold(b, n, c.path, c.send, c.prio)
			})
		}
		b.Run(fmt.Sprintf("callers=%d/bare-sender", n), func(b *testing.B) { benchHoldBare(b, n) })
	}
}

var holdLine = regexp.MustCompile(`hold: (\d+) callers, (\d+) frames, ([\d.]+) frames/s each \(lowest ([\d.]+)\); late p50 (\S+) p99 (\S+) max ([^;\s]+); (\d+) lost, (\d+) skipped by the sender`)

func benchHold(b *testing.B, n int, path, send, prio string) {
	bin := buildBinary(b)
	mode := map[string]string{"kernel": "on", "user": "off"}[path]
	cfgPath := writeConfig(b, func(s string) string {
		s = regexp.MustCompile(`(?m)^(    - \{id: "1006".*\n)`).ReplaceAllString(s,
			"${1}    - {id: \"3000\", name: \"Agent 3000\", sip_user: \"3000\", password: pw3000, skills: {burgdorf: 5}}\n")
		s = strings.Replace(alwaysOpen(s), "kernel_forwarding: auto", "kernel_forwarding: "+mode, 1)
		s = strings.Replace(s, "send_batching: auto", "send_batching: "+send, 1)
		return strings.Replace(s, "clock_priority: off", "clock_priority: "+prio, 1)
	})
	sipAddr := fmt.Sprintf("127.0.0.1:%d", interop.FreeUDPTCPPort(b))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", interop.FreePort(b, "tcp"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	serve, _ := serveBinary(ctx, b, bin, cfgPath, sipAddr, httpAddr, "20000-39999", b.TempDir(), "hold-bench")
	defer func() { _ = serve.Process.Kill(); _ = serve.Wait() }()

	sim := exec.CommandContext(ctx, bin, "simulate", "--config", "", "--target", sipAddr, "--dial", "05136115",
		"--agent-range", "3000-3000", "--rate", "250", "--calls", strconv.Itoa(n), "--talk", "1h",
		"--ring-delay", "0s", "--wrapup", "0s", "--quiet", "--measure-hold")
	var out bytes.Buffer
	sim.Stdout, sim.Stderr = &out, &out
	if err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Minute); activeCalls(httpAddr) < n; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			live := activeCalls(httpAddr)
			_ = sim.Process.Signal(os.Interrupt) // for its report
			waitDone := make(chan error, 1)
			go func() { waitDone <- sim.Wait() }()
			select {
			case <-waitDone:
			case <-time.After(2 * time.Minute):
			}
			b.Fatalf("%d of %d calls live after 3 minutes (%v legs ended for silent RTP)\n%s", live, n,
				scrapeMetric(httpAddr, "sc115_media_timeouts_total"), out.String())
		}
	}
	pid := serve.Process.Pid
	skipped0 := scrapeMetric(httpAddr, "sc115_media_clock_frames_skipped_total")
	caughtUp0 := scrapeMetric(httpAddr, "sc115_media_clock_frames_caught_up_total")
	cpu0, simCPU0 := procCPU(b, pid), procCPU(b, sim.Process.Pid)
	b.ResetTimer()
	window := 30 * time.Second
	time.Sleep(window)
	b.StopTimer()
	cores := (procCPU(b, pid) - cpu0).Seconds() / window.Seconds()
	simCores := (procCPU(b, sim.Process.Pid) - simCPU0).Seconds() / window.Seconds()
	skipped := scrapeMetric(httpAddr, "sc115_media_clock_frames_skipped_total") - skipped0
	caughtUp := scrapeMetric(httpAddr, "sc115_media_clock_frames_caught_up_total") - caughtUp0
	refused := scrapeMetric(httpAddr, "sc115_media_send_failures_total")
	_ = sim.Process.Signal(os.Interrupt) // the callers hang up; the report follows
	done := make(chan error, 1)
	go func() { done <- sim.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("simulate did not end after SIGINT\n%s", out.String())
	}
	b.Logf("%s", out.String())
	reportHoldLine(b, out.String())
	b.ReportMetric(skipped, "skipped")
	b.ReportMetric(caughtUp, "caught-up")
	b.ReportMetric(refused, "send-refused")
	b.ReportMetric(cores, "sc115-cores")
	b.ReportMetric(simCores, "generator-cores")
}

// reportHoldLine reports what the generator's hold line says: callers,
// frames a second each (mean, lowest), the lateness quantiles, the frames
// that never arrived (lost) and those the sender left out (heard-skipped:
// for sc115 its own skipped frames, seen from the callers' side).
func reportHoldLine(b *testing.B, report string) {
	m := holdLine.FindStringSubmatch(report)
	if m == nil {
		b.Fatalf("no hold line in the report\n%s", report)
	}
	ms := func(s string) float64 {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("lateness %q: %v", s, err)
		}
		return float64(d.Microseconds()) / 1000
	}
	streams, _ := strconv.Atoi(m[1])
	fps, _ := strconv.ParseFloat(m[3], 64)
	lowest, _ := strconv.ParseFloat(m[4], 64)
	b.ReportMetric(float64(streams), "callers")
	b.ReportMetric(fps, "frames/s")
	b.ReportMetric(lowest, "lowest-frames/s")
	b.ReportMetric(ms(m[5]), "late-p50-ms")
	b.ReportMetric(ms(m[6]), "late-p99-ms")
	b.ReportMetric(ms(m[7]), "late-max-ms")
	lost, _ := strconv.Atoi(m[8])
	heardSkipped, _ := strconv.Atoi(m[9])
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(heardSkipped), "heard-skipped")
}
