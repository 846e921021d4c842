package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// serveBinary starts `sc115 serve` (bin, from buildBinary) on cfgPath in
// a process of its own — SIP and HTTP on the given addresses, RTP on
// rtpPorts, CDRs in cdrDir — and returns once its banner has said where
// the CDRs go, with the banner's lines before that. It ends with ctx; the
// caller stops it and waits for it. env are more VAR=value settings for
// it (SC115_REDIS for a real store).
func serveBinary(ctx context.Context, b *testing.B, bin, cfgPath, sipAddr, httpAddr, rtpPorts, cdrDir, instance string, env ...string) (*exec.Cmd, string) {
	b.Helper()
	serve := exec.CommandContext(ctx, bin, "serve", "--config", cfgPath)
	serve.Env = append(os.Environ(), "SC115_SIP_LISTEN="+sipAddr, "SC115_HTTP_LISTEN="+httpAddr,
		"SC115_RTP_PORTS="+rtpPorts, "SC115_CDR_DIR="+cdrDir, "SC115_INSTANCE="+instance)
	serve.Env = append(serve.Env, env...)
	stdout, _ := serve.StdoutPipe()
	serve.Stderr = serve.Stdout
	if err := serve.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var banner strings.Builder
	for sc.Scan() && !strings.Contains(sc.Text(), "CDRs") {
		banner.WriteString(sc.Text() + "\n")
	}
	// SC115_BENCH_SERVE_LOG=FILE keeps the server's log of a benchmark
	// (appended: one file for all its runs) to see why calls ended.
	var keep io.Writer = io.Discard
	if name := os.Getenv("SC115_BENCH_SERVE_LOG"); name != "" {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = f.Close() })
		fmt.Fprintf(f, "=== %s %s\n", b.Name(), time.Now().Format(time.RFC3339))
		keep = f
	}
	go func() { _, _ = io.Copy(keep, stdout) }()
	return serve, banner.String()
}
