// Package interop lets tests use real peers (redis-server, sipp, baresip,
// kamailio) on loopback. A test that needs a program skips with a clear
// message when it is absent, and fails instead when SC115_INTEROP=required
// (as in CI), so that no real-peer test can silently not run.
package interop

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if UDPBound(t, port) {
			return
		}
	}
	t.Fatalf("nothing bound UDP port %d within %v", port, within)
}

// UDPBound tells whether some process has bound UDP port (from
// /proc/net/udp).
func UDPBound(t testing.TB, port int) bool {
	t.Helper()
	want := fmt.Sprintf(":%04X ", port)
	data, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		t.Fatalf("cannot see bound ports: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasSuffix(f[1]+" ", want) {
			return true
		}
	}
	return false
}

// FreeMediaPort returns an even loopback UDP port whose next three ports
// are free too (sipp's -mp takes the even port and the ones above it for
// RTCP and its echo): rounding a free port down to even alone may land on
// a port in use.
func FreeMediaPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := FreePort(t, "udp") &^ 1
		free := true
		for q := p; q < p+4 && free; q++ {
			c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", q))
			if err != nil {
				free = false
				continue
			}
			c.Close()
		}
		if free {
			return p
		}
	}
	t.Fatal("no four free UDP ports in a row")
	return 0
}

// RedisServer starts a redis-server on a free loopback port for the test
// (stopped at cleanup) and returns its redis:// URL.
func RedisServer(t testing.TB) string {
	t.Helper()
	return StartRedis(t).URL
}

// Redis is a redis-server of a test that can be stopped and started again
// on the same port (a store outage).
type Redis struct {
	URL  string
	t    testing.TB
	bin  string
	port int
	cmd  *exec.Cmd
	// dir, if set, keeps the data across Stop and Start (append-only
	// file, fsync always), as a production Redis does.
	dir string
	// extra are more redis-server arguments (a replica's --replicaof).
	extra []string
}

// StartPersistentRedis is StartRedis with an append-only file in a
// temporary folder: a Stop and Start keeps what was written.
func StartPersistentRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, bin: Require(t, "redis-server", "redis-server"), port: FreePort(t, "tcp"), dir: t.TempDir()}
	r.URL = "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0"
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// StartRedis starts a redis-server on a free loopback port (no
// persistence), killed when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, bin: Require(t, "redis-server", "redis-server"), port: FreePort(t, "tcp")}
	r.URL = "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0"
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start runs redis-server and waits (however long this machine takes)
// until it accepts connections.
func (r *Redis) Start() {
	r.t.Helper()
	args := []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	if r.dir != "" {
		args = []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir}
	}
	r.cmd = exec.Command(r.bin, append(args, r.extra...)...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(r.port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	r.t.Fatalf("redis-server on %s did not come up", addr)
}

// Pid is the running redis-server's process id (0 when stopped), for a
// benchmark that reads its memory or CPU.
func (r *Redis) Pid() int {
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Stop kills redis-server (its data is gone, unless it persists) and
// waits for it to exit.
func (r *Redis) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// Sentinels is a Redis master, a replica and three sentinels watching
// them (master name "sc115"), all on loopback, stopped when the test ends.
type Sentinels struct {
	// URL is the redis-sentinel:// URL sc115 is configured with.
	URL string
	// Master is the first master (KillMaster stops it).
	Master *Redis
	// Replica is the replica the sentinels promote.
	Replica *Redis
}

// StartSentinels starts the group and waits until the sentinels know the
// master and its replica.
func StartSentinels(t testing.TB) *Sentinels {
	t.Helper()
	bin := Require(t, "redis-server", "redis-server")
	master := StartRedis(t)
	replica := &Redis{t: t, bin: bin, port: FreePort(t, "tcp")}
	replica.URL = "redis://127.0.0.1:" + strconv.Itoa(replica.port) + "/0"
	replica.extra = []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.port)}
	replica.Start()
	t.Cleanup(replica.Stop)
	var addrs []string
	for i := 0; i < 3; i++ {
		port := FreePort(t, "tcp")
		cfg := filepath.Join(t.TempDir(), "sentinel.conf")
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor sc115 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds sc115 1000\nsentinel failover-timeout sc115 10000\nsentinel parallel-syncs sc115 1\n", port, master.port)
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, cfg, "--sentinel")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	// Wait until each sentinel answers and sees the replica.
	for _, a := range addrs {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			sc := redis.NewSentinelClient(&redis.Options{Addr: a})
			reps, err := sc.Replicas(context.Background(), "sc115").Result()
			_ = sc.Close()
			if err == nil && len(reps) > 0 && fmt.Sprint(reps) != "" && strings.Contains(fmt.Sprint(reps), strconv.Itoa(replica.port)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sentinel %s does not see the replica", a)
			}
		}
	}
	return &Sentinels{URL: "redis-sentinel://sc115@" + strings.Join(addrs, ",") + "/0", Master: master, Replica: replica}
}

// Kamailio is a kamailio process of a test, run in the foreground from a
// folder of its own and stopped when the test ends.
type Kamailio struct {
	Dir string
	cmd *exec.Cmd
}

// StartKamailio runs kamailio on cfg (a file in dir, which holds whatever it
// includes) and waits, however long this machine takes, until it has bound
// UDP port. Its log goes to dir/kamailio.log.
func StartKamailio(t testing.TB, dir, cfg string, port int) *Kamailio {
	t.Helper()
	bin := Require(t, "kamailio", "kamailio")
	if out, err := exec.Command(bin, "-f", cfg, "-c").CombinedOutput(); err != nil {
		t.Fatalf("kamailio -c %s: %v\n%s", cfg, err, out)
	}
	logf, err := os.Create(filepath.Join(dir, "kamailio.log"))
	if err != nil {
		t.Fatal(err)
	}
	k := &Kamailio{Dir: dir}
	k.cmd = exec.Command(bin, "-f", cfg, "-P", filepath.Join(dir, "kamailio.pid"), "-Y", dir, "-w", dir,
		"-DD", "-E", "-m", "64", "-M", "8")
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	// Its own process group: kamailio forks workers, and every one of them
	// must end with the test (a worker left behind outlived a CI run).
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pgid := -k.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = k.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-done
		}
		_ = syscall.Kill(pgid, syscall.SIGKILL) // workers that outlived the main process
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("kamailio log (last lines):\n%s", tail(string(b), 40))
			}
		}
	})
	WaitUDPBound(t, port, time.Minute)
	return k
}

// Log is what kamailio logged so far.
func (k *Kamailio) Log() string {
	b, _ := os.ReadFile(filepath.Join(k.Dir, "kamailio.log"))
	return string(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Pid is kamailio's main process; its workers share its process group.
func (k *Kamailio) Pid() int { return k.cmd.Process.Pid }
