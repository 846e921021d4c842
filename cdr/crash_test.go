package cdr

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestHelperWriter is not a test: it is the child process of
// TestKillNineWhileWriting, writing CDRs until it is killed.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv("SC115_CRASH_WRITER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	w, err := NewWriter(dir, "crash", nil, zerolog.Nop())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	run := os.Getenv("SC115_CRASH_RUN")
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%d", run, i)
		// Long caller field so a row takes several hundred bytes.
		r := Record{CallID: id, Municipality: "burgdorf", Caller: strings.Repeat("x", 200), ArrivedAt: time.Now(), TalkMS: int64(i), Disposition: Answered}
		if err := w.Write(r); err != nil {
			fmt.Fprintln(out, "error", err)
		}
		fmt.Fprintln(out, "done", id) // the call's state may be dropped now
		out.Flush()
	}
}

// TestKillNineWhileWriting kills the writing process with SIGKILL at random
// moments, 25 times, restarting it on the same directory: afterwards every
// call whose Write had returned has exactly one intact row, and no torn
// row is left once a writer has opened the file again.
func TestKillNineWhileWriting(t *testing.T) {
	dir := t.TempDir()
	done := map[string]bool{}
	for run := 0; run < 25; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
		cmd.Env = append(os.Environ(), "SC115_CRASH_WRITER_DIR="+dir, fmt.Sprintf("SC115_CRASH_RUN=r%d", run))
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Wait for the child's first completed write however long a
		// race-enabled binary takes to start here, then kill it at a random
		// moment within the next tens of milliseconds: mid-write most times.
		first, ok := waitForLine(t, lines, "done ", time.Minute)
		if !ok {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("run %d: the writer ended or stalled before its first write", run)
		}
		done[strings.TrimPrefix(first, "done ")] = true
		time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for l := range lines {
			if id, ok := strings.CutPrefix(l, "done "); ok {
				done[id] = true
			} else if strings.HasPrefix(l, "error") {
				t.Fatal(l)
			}
		}
		_ = cmd.Wait()
	}
	if len(done) < 25 {
		t.Fatalf("only %d writes completed over 25 runs", len(done))
	}
	// sc115 starting again opens the file and cuts a torn tail.
	w, _ := NewWriter(dir, "crash", nil, zerolog.Nop())
	_ = w.Write(Record{CallID: "after", Municipality: "burgdorf", ArrivedAt: time.Now(), Disposition: Answered})
	w.Close()
	recs, st, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Bad) > 0 || st.Duplicates > 0 {
		t.Errorf("%d bad rows (%v), %d duplicates", len(st.Bad), st.Bad[:min(3, len(st.Bad))], st.Duplicates)
	}
	have := map[string]bool{}
	for _, r := range recs {
		have[r.CallID] = true
	}
	for id := range done {
		if !have[id] {
			t.Errorf("completed call %s has no row", id)
		}
	}
	t.Logf("%d completed writes over 25 kills, %d rows on disk", len(done), len(recs))
}

// waitForLine returns the first line with prefix, failing the test on an
// "error" line; ok is false when the stream ends or the deadline passes.
func waitForLine(t *testing.T, lines <-chan string, prefix string, deadline time.Duration) (string, bool) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case l, open := <-lines:
			if !open {
				return "", false
			}
			if strings.HasPrefix(l, "error") {
				t.Fatal(l)
			}
			if strings.HasPrefix(l, prefix) {
				return l, true
			}
		case <-timeout:
			return "", false
		}
	}
}
