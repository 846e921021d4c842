package media

import (
	"sort"
	"syscall"
	"time"
)

// cpuMeter starts measuring this process' CPU time (user + system); the
// returned function says how much was used since.
func cpuMeter() func() time.Duration {
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	return func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	}
}

// quantilesMS sorts d and returns the requested quantiles (0…1) in ms.
func quantilesMS(d []time.Duration, ps ...float64) []float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	out := make([]float64, len(ps))
	for i, p := range ps {
		if len(d) > 0 {
			out[i] = float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds()) / 1000
		}
	}
	return out
}
