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
)

// BenchmarkRegisterThroughBinary (issue 18): digest REGISTER side by side,
// sc115 against Kamailio 5.6 as a registrar, by the same sipp scenarios
// in the same run.
//
//   - load=register: two sipp processes (sipp is single-threaded), each
//     one agent registering 1,500 times a second, 15,000 times: 30,000
//     registrations at 3,000/s, each a 401 challenge and an authenticated
//     REGISTER answered 200 with the bindings.
//   - load=challenge: one sipp sending 30,000 REGISTERs without
//     credentials at 3,000/s, each answered 401 and not followed up: the
//     cost of a flood of unauthenticated requests.
//
// sc115 runs `serve` on the example config with the embedded store;
// Kamailio runs the registrar below (auth, registrar and usrloc in memory,
// two UDP workers, nonce counts checked as sc115 checks them). Reported:
// the server's CPU per registration or per rejected request (/proc, all of
// Kamailio's processes), and what sipp counted failed.
//
//	go test -run '^$' -bench RegisterThroughBinary -benchtime 1x ./cmd/sc115/
func BenchmarkRegisterThroughBinary(b *testing.B) {
	for _, load := range []string{"register", "challenge"} {
		for _, server := range []string{"sc115", "kamailio"} {
			b.Run("load="+load+"/server="+server, func(b *testing.B) { benchRegister(b, server, load) })
		}
	}
}

// kamailioRegistrar is the Kamailio side: a digest registrar whose
// passwords are the example config's (demo + the user).
const kamailioRegistrar = `#!KAMAILIO
debug=0
log_stderror=yes
children=2
auto_aliases=no
listen=udp:127.0.0.1:%d
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "auth.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("auth", "nonce_count", 1)
modparam("usrloc", "db_mode", 0)
request_route {
	if ($rm != "REGISTER") {
		sl_send_reply("405", "Method Not Allowed");
		exit;
	}
	if (!pv_www_authenticate("$td", "demo$fU", "0")) {
		if ($rc == -1) {
			sl_send_reply("403", "Forbidden");
			exit;
		}
		www_challenge("$td", "1");
		exit;
	}
	if (!save("location")) {
		sl_reply_error();
	}
	exit;
}
`

func benchRegister(b *testing.B, server, load string) {
	sipp := interop.Require(b, "sipp", "sip-tester")
	dir := b.TempDir()
	port := interop.FreeUDPTCPPort(b)
	target := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var cpu func() time.Duration
	switch server {
	case "sc115":
		bin := buildBinary(b)
		cfgPath := writeConfig(b, func(s string) string { return s })
		httpAddr := fmt.Sprintf("127.0.0.1:%d", interop.FreePort(b, "tcp"))
		serve, _ := serveBinary(ctx, b, bin, cfgPath, target, httpAddr, "20000-20999", b.TempDir(), "register-bench")
		defer func() { _ = serve.Process.Kill(); _ = serve.Wait() }()
		pid := serve.Process.Pid
		cpu = func() time.Duration { return procCPU(b, pid) }
	case "kamailio":
		cfg := filepath.Join(dir, "kamailio.cfg")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(kamailioRegistrar, port)), 0o644); err != nil {
			b.Fatal(err)
		}
		k := interop.StartKamailio(b, dir, cfg, port)
		pgid := k.Pid()
		cpu = func() time.Duration { return groupCPU(b, pgid) }
	}
	users := []string{"1003", "1004"}
	scenario, per := "testdata/sipp/agent-register.xml", 15000
	if load == "challenge" {
		users, scenario, per = users[:1], "testdata/sipp/register-challenge.xml", 30000
	}
	rate := 3000 / len(users)
	cpu0 := cpu()
	start := time.Now()
	b.ResetTimer()
	done := make(chan error, len(users))
	for _, u := range users {
		go func() {
			stat := filepath.Join(dir, u+"-stat.csv")
			// No message trace: at 3,000/s it would cost sipp more than the
			// server under test.
			args := []string{"-i", "127.0.0.1", "-nostdin", "-timeout", "120s", "-timeout_error",
				"-sf", scenario, "-r", strconv.Itoa(rate), "-rp", "1000", "-m", strconv.Itoa(per),
				"-l", "2000", "-au", u, "-ap", "demo" + u, "-key", "agent", u, "-key", "uasport", "5999",
				"-trace_stat", "-stf", stat, "-fd", "1", target}
			done <- exec.CommandContext(ctx, sipp, args...).Run()
		}()
	}
	for range users {
		if err := <-done; err != nil && !strings.Contains(err.Error(), "exit status 1") {
			b.Fatalf("sipp: %v", err) // exit status 1: some calls failed, counted below
		}
	}
	elapsed := time.Since(start)
	used := cpu() - cpu0
	b.StopTimer()
	ok, failed := 0, 0
	for _, u := range users {
		st := sippFinalStats(b, filepath.Join(dir, u+"-stat.csv"))
		ok += st["SuccessfulCall(C)"]
		failed += st["FailedCall(C)"]
	}
	if ok == 0 {
		b.Fatalf("no REGISTER succeeded against %s", server)
	}
	unit := "µs-cpu-per-registration"
	if load == "challenge" {
		unit = "µs-cpu-per-rejected-request"
	}
	b.ReportMetric(float64(used.Microseconds())/float64(ok), unit)
	b.ReportMetric(float64(ok)/elapsed.Seconds(), "per-s")
	b.ReportMetric(float64(failed), "failed")
}

// groupCPU is the CPU time of every process in process group pgid.
func groupCPU(b *testing.B, pgid int) time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var sum time.Duration
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		_, rest, _ := strings.Cut(string(data), ") ")
		fs := strings.Fields(rest) // fs[0] is field 3 (state); pgrp is field 5
		if len(fs) < 13 || fs[2] != strconv.Itoa(pgid) {
			continue
		}
		ut, _ := strconv.ParseInt(fs[11], 10, 64)
		st, _ := strconv.ParseInt(fs[12], 10, 64)
		sum += time.Duration(ut+st) * time.Second / 100 // USER_HZ
	}
	return sum
}
