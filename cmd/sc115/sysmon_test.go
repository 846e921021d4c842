package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHelperSysmonAwake is not a test: run by TestServeKeepsSysmonAwake
// as a process of its own, it does what `sc115 serve` does first and
// prints the GODEBUG it then runs with (and the process id, which a
// re-execution keeps).
func TestHelperSysmonAwake(t *testing.T) {
	if os.Getenv("SC115_SYSMON_HELPER") != "1" {
		t.Skip("helper process for TestServeKeepsSysmonAwake")
	}
	keepSysmonAwake()
	fmt.Printf("GODEBUG=%q pid=%d\n", os.Getenv("GODEBUG"), os.Getpid())
	os.Exit(0)
}

// TestServeKeepsSysmonAwake: serve re-executes itself once with the
// runtime's monitor kept awake, keeping what GODEBUG already said; an
// operator's own schedtrace is left as it is.
func TestServeKeepsSysmonAwake(t *testing.T) {
	for _, c := range []struct{ env, want string }{
		{"", sysmonAwake},
		{"GODEBUG=madvdontneed=1", "madvdontneed=1," + sysmonAwake},
		{"GODEBUG=schedtrace=0", "schedtrace=0"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSysmonAwake$", "-test.count=1")
		cmd.Env = []string{"SC115_SYSMON_HELPER=1"}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GODEBUG=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		if c.env != "" {
			cmd.Env = append(cmd.Env, c.env)
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.env, err, out)
		}
		// The helper prints its line before the test framework's own.
		want := fmt.Sprintf("GODEBUG=%q pid=%d\n", c.want, cmd.Process.Pid)
		if !strings.HasPrefix(string(out), want) {
			t.Errorf("with %q in the environment the process printed %q, want %q first", c.env, out, want)
		}
	}
}
