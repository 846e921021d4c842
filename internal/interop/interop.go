// Package interop lets tests use real peers (redis-server, sipp, baresip,
// kamailio) on loopback. A test that needs a program skips with a clear
// message when it is absent, and fails instead when SC115_INTEROP=required
// (as in CI), so that no real-peer test can silently not run.
package interop

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Require returns the path of program, skipping or failing the test if it
// is not installed.
func Require(t testing.TB, program, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err == nil {
		return p
	}
	msg := program + " not installed (apt-get install " + debianPackage + ")"
	if os.Getenv("SC115_INTEROP") == "required" {
		t.Fatalf("%s, and SC115_INTEROP=required", msg)
	}
	t.Skip(msg + "; set SC115_INTEROP=required to make this a failure")
	return ""
}

// FreeUDPTCPPort returns a loopback port currently free for both UDP and
// TCP (SIP listens on both).
func FreeUDPTCPPort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		p := FreePort(t, "udp")
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

// FreePort returns a currently free loopback port for network ("udp" or "tcp").
func FreePort(t testing.TB, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitUDPBound waits until some process on this machine has bound UDP
// port on loopback or any address (read from /proc/net/udp, so the check
// itself never takes the port), failing the test after within.
func WaitUDPBound(t testing.TB, port int, within time.Duration) {
	t.Helper()
	want := fmt.Sprintf(":%04X ", port)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		data, err := os.ReadFile("/proc/net/udp")
		if err != nil {
			t.Fatalf("cannot see bound ports: %v", err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 1 && strings.HasSuffix(f[1]+" ", want) {
				return
			}
		}
	}
	t.Fatalf("nothing bound UDP port %d within %v", port, within)
}

// RedisServer starts a redis-server on a free loopback port for the test
// (stopped at cleanup) and returns its redis:// URL.
func RedisServer(t testing.TB) string {
	t.Helper()
	bin := Require(t, "redis-server", "redis-server")
	port := FreePort(t, "tcp")
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// However long this machine takes to start it (a fresh one may be slow).
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "redis://" + addr + "/0"
		}
	}
	t.Fatalf("redis-server on %s did not come up", addr)
	return ""
}
