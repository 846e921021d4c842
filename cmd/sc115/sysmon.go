package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// sysmonAwake is the GODEBUG setting `sc115 serve` runs with. It keeps
// the Go runtime's monitor thread (sysmon) out of its deep sleep, the one
// thing the setting does besides a scheduler line on stderr every
// schedtrace milliseconds — here the most Go accepts, 24.8 days, counted
// from the machine's boot, so a host up longer than that prints one line
// at start and one every 24.8 days.
//
// Why: sysmon sleeps deeply whenever every P is idle, and the first system
// call after that wakes it and puts it back to polling every 20 µs for a
// millisecond and more. A call center's load is exactly that pattern —
// short bursts of SIP and RTP work with idle gaps between them — so sysmon
// spent its life in 20 µs naps: 13 % of sc115's samples at 200 calls/s,
// each nap two context switches, which on a paravirtualised host cost
// more than the work. Kept awake it backs off to one look every 10 ms and
// stays there. Measured: 3.4–3.7 → 2.95 ms CPU per bridged call
// (BenchmarkCallsWithRTP, BENCHMARKS.md).
const sysmonAwake = "schedtrace=2147483647"

// keepSysmonAwake re-executes this process with sysmonAwake added to
// GODEBUG, which the runtime reads only at its start. It returns without
// doing so where GODEBUG already sets schedtrace (an operator's choice,
// and the re-executed process itself: no loop), and where the executable
// cannot be found or run again (sc115 then runs as before, slower).
func keepSysmonAwake() {
	cur, set := os.LookupEnv("GODEBUG")
	if set && strings.Contains(cur, "schedtrace=") {
		return
	}
	exe, err := os.Executable()
	if err == nil {
		godebug := sysmonAwake
		if cur != "" {
			godebug = cur + "," + sysmonAwake
		}
		env := []string{"GODEBUG=" + godebug}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GODEBUG=") {
				env = append(env, kv)
			}
		}
		err = syscall.Exec(exe, os.Args, env) // returns only if it failed
	}
	fmt.Fprintf(os.Stderr, "sc115: running with the Go runtime's default monitor sleep (%v)\n", err)
}
