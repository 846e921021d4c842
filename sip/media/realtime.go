package media

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Clock priority modes (media.clock_priority).
const (
	PriorityAuto = "auto" // real-time where the process may (root, CAP_SYS_NICE), else normal with one log line
	PriorityOn   = "on"   // fail to start without it
	PriorityOff  = "off"  // normal priority, Go timers (the default)
)

// clockRTPriority is the SCHED_FIFO priority of the media clock's
// threads: above every normal thread, below the kernel's own (threaded
// interrupts run at 50), as media servers do (Asterisk -p, FreeSWITCH -rp).
const clockRTPriority = 10

// errNoRealtime: the process may not raise a thread to real-time priority.
var errNoRealtime = errors.New("real-time scheduling not permitted (needs root or CAP_SYS_NICE)")

// rtThread makes the calling goroutine's thread a media clock thread:
// locked to it and scheduled SCHED_FIFO, until release. Why: on a machine
// whose cores are busy (with sc115's own relay, or anything else) a normal
// thread's wake-up waits behind others for milliseconds, and a hold
// stream's frame is then late or skipped; a real-time thread runs the
// moment its deadline comes. The clock sleeps between phases, so it takes
// the core for the sends alone (and the kernel's RT throttling bounds it
// even if it did not).
//
// release makes the thread a normal one again before unlocking it: the
// goroutine may sit on the process' main thread, which Go never ends, and
// no real-time thread may stay behind in the runtime's pool.
func rtThread() (release func(), err error) {
	runtime.LockOSThread()
	// RESET_ON_FORK: a thread this one starts (the race detector's, a
	// runtime thread) is a normal thread again.
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: clockRTPriority, Flags: unix.SCHED_FLAG_RESET_ON_FORK}
	err = unix.SchedSetAttr(0, &attr, 0)
	if err == nil {
		return func() {
			normal := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}
			if unix.SchedSetAttr(0, &normal, 0) == nil {
				runtime.UnlockOSThread()
			} // else: stay locked, and the thread ends with the goroutine
		}, nil
	}
	runtime.UnlockOSThread()
	if errors.Is(err, unix.EPERM) {
		return nil, errNoRealtime
	}
	return nil, fmt.Errorf("sched_setattr: %w", err)
}

// monoSleeper sleeps a real-time thread to absolute deadlines on
// CLOCK_MONOTONIC (the clock Go's time.Since reads), in the thread itself:
// a Go timer would wake it only once some other thread of the runtime
// noticed the timer, at normal priority.
type monoSleeper struct{ start int64 } // CLOCK_MONOTONIC ns when the shard's clock started

func newMonoSleeper() monoSleeper {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return monoSleeper{start: ts.Nano()}
}

// until sleeps until d after start.
func (m monoSleeper) until(d time.Duration) {
	ts := unix.NsecToTimespec(m.start + int64(d))
	for unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil) == unix.EINTR {
	}
}
