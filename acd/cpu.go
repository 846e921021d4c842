package acd

import (
	"context"
	"syscall"
	"time"
)

// sampleCPU measures this process' CPU use once a second (getrusage), for
// the "instance overloaded" overflow rule.
func (e *Engine) sampleCPU(ctx context.Context) {
	var last syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &last)
	at := time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
				continue
			}
			used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano() - last.Utime.Nano() - last.Stime.Nano())
			e.cpuPercent.Store(int64(100 * used.Seconds() / now.Sub(at).Seconds()))
			last, at = ru, now
		}
	}
}
