package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
)

// TestServeBinaryBannerHealthAndSIGTERM runs the real binary the way
// `make run` does (settings through SC115_* variables here, to use free
// ports), reads where it listens from its banner, checks /healthz and
// /readyz, and stops it with SIGTERM.
func TestServeBinaryBannerHealthAndSIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sc115")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", "../../deploy/examples/region-hannover.yaml")
	cmd.Dir = "."
	cdrDir := t.TempDir()
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("SC115_SIP_LISTEN=127.0.0.1:%d", interop.FreeUDPTCPPort(t)),
		fmt.Sprintf("SC115_HTTP_LISTEN=127.0.0.1:%d", interop.FreePort(t, "tcp")),
		"SC115_RTP_PORTS="+freeRTPRange(t), "SC115_CDR_DIR="+cdrDir, "SC115_INSTANCE=bin-test")
	// The example's prompts_dir is relative to the repository root.
	cmd.Dir = "../.."
	cmd.Args[3] = "deploy/examples/region-hannover.yaml"
	stdout, _ := cmd.StdoutPipe()
	var stderr syncBuffer // why it did not start, if it did not
	cmd.Stderr = &stderr
	if testing.Verbose() {
		cmd.Stderr = io.MultiWriter(os.Stderr, &stderr)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	banner := map[string]string{}
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`^\s+(SIP|HTTP|RTP|store|CDRs)\s+(.*)$`)
	for len(banner) < 5 && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			banner[m[1]] = m[2]
		}
	}
	go func() { _, _ = bufio.NewReader(stdout).WriteTo(devNull{}) }()
	if !strings.HasPrefix(banner["SIP"], "udp+tcp 127.0.0.1:") || !strings.Contains(banner["RTP"], "ports") ||
		!strings.HasPrefix(banner["store"], "embedded") || banner["CDRs"] != cdrDir {
		t.Fatalf("banner %v; stderr:\n%s", banner, stderr.String())
	}
	httpAddr := strings.Fields(banner["HTTP"])[0]
	if code, body := httpGet(t, httpAddr+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz %d %q", code, body)
	}
	if code, _ := httpGet(t, httpAddr+"/readyz"); code != 200 {
		t.Errorf("/readyz %d", code)
	}
	// An idle service runs Go's scheduler on one P (procs.go), its
	// monitor kept awake (sysmon.go).
	environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", cmd.Process.Pid))
	if !bytes.Contains(environ, []byte(sysmonAwake)) {
		t.Errorf("serve runs without %s in GODEBUG", sysmonAwake)
	}
	for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, body := httpGet(t, httpAddr+"/metrics")
		if strings.Contains(body, "\ngo_sched_gomaxprocs_threads 1\n") {
			break
		}
		if time.Now().After(deadline) {
			m := regexp.MustCompile(`(?m)^go_sched_gomaxprocs_threads .*$`).FindString(body)
			t.Fatalf("idle for 45 s, the service still runs %q; want 1 P", m)
		}
	}
	// SIP answers on the announced address (UDP).
	ph, err := testphone.New("probe", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	sipAddr := strings.Fields(banner["SIP"])[1]
	if res, err := ph.Register(ctx, sipAddr, "demo1001", 300); err != nil || res.StatusCode != 403 {
		t.Errorf("REGISTER as unknown user 'probe': %v %v, want 403", res, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want exit 0", err)
	}
}

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

// syncBuffer is a bytes.Buffer safe for the process's writer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
