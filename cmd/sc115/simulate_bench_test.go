package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSimulateLoadGenerator (issue 17): what `sc115 simulate` costs
// as the project's load generator. sc115 runs in this process with 400
// Burgdorf agents and no wrap-up; the simulator runs as the real binary,
// its own process, so its CPU (getrusage of the child) is its alone:
// calls at a rate, 2 s talk, RTP both ways on every answered call (the
// concurrent streams are rate × talk × 2 directions).
//
//	go test -run '^$' -bench SimulateLoadGenerator -benchtime 1x ./cmd/sc115/
func BenchmarkSimulateLoadGenerator(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "sc115")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	const agents = 400
	cfg := testConfigB(b)
	cfg.ACD.Queue.Wrapup = 0
	cfg.ACD.Agents = burgdorfAgents(agents, 2000)
	s := startBench(b, cfg)
	summary := regexp.MustCompile(`offered (\d+), answered (\d+).* in (\S+)`)
	generator := regexp.MustCompile(generatorLine)
	loss := regexp.MustCompile(`loss ([\d.]+) %`)
	for _, rate := range []int{10, 50, 100} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			calls := rate * 20
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(bin, "simulate", "--config", "", "--target", s.sip.Addr().String(), "--dial", "05136115",
					"--agent-range", fmt.Sprintf("2000-%d", 2000+agents-1), "--rate", strconv.Itoa(rate), "--calls", strconv.Itoa(calls),
					"--talk", "2s", "--ring-delay", "0s", "--wrapup", "0s", "--quiet")
				out, err := cmd.Output()
				if err != nil {
					b.Fatalf("simulate: %v\n%s", err, out)
				}
				m := summary.FindSubmatch(out)
				if m == nil {
					b.Fatalf("no summary in\n%s", out)
				}
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
				elapsed, _ := time.ParseDuration(string(m[3]))
				answered, _ := strconv.Atoi(string(m[2]))
				b.ReportMetric(cpu.Seconds()*1000/float64(calls), "cpu-ms/call")
				b.ReportMetric(100*cpu.Seconds()/max(1, elapsed.Seconds()), "cpu-%")
				b.ReportMetric(float64(rate*2*2), "streams")
				b.ReportMetric(100*float64(answered)/float64(calls), "%answered")
				if g := generator.FindSubmatch(out); g != nil {
					perCall, _ := strconv.ParseFloat(string(g[4]), 64)
					b.ReportMetric(perCall, "goroutines/call")
				}
				if l := loss.FindSubmatch(out); l != nil {
					pct, _ := strconv.ParseFloat(string(l[1]), 64)
					b.ReportMetric(pct, "%loss")
				}
				b.Logf("%s", out)
			}
		})
	}
}
