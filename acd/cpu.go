package acd

import (
	"context"
	"syscall"
	"time"
)

// sampleCPU measures this process' CPU use once a second, for the load
// limit acd.max_cpu_percent (new calls refused, waiting calls overflow).
func (e *Engine) sampleCPU(ctx context.Context) {
	last, at := e.CPUTime(), time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			used := e.CPUTime()
			e.cpuPercent.Store(int64(100 * (used - last).Seconds() / now.Sub(at).Seconds()))
			last, at = used, now
		}
	}
}

// processCPUTime is the user and system time this process has used
// (getrusage); 0 if it cannot be read.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
