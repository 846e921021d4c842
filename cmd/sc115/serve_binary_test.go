package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
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
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return serve, banner.String()
}
