package simulate

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strconv"
)

// goroutineLabel marks the run's goroutines (pprof labels are inherited
// by every goroutine a labelled one starts, sipgo's included), so the
// generator counts its own even when sc115 runs in the same process, as
// in the tests.
const goroutineLabel = "sc115-simulate"

// labelled runs f with the run's label on its goroutine and all it starts.
func labelled(ctx context.Context, f func(context.Context)) {
	pprof.Do(ctx, pprof.Labels(goroutineLabel, "run"), f)
}

// ownGoroutines counts the live goroutines that carry the run's label.
// (Timer callbacks run on goroutines the runtime starts, unlabelled: they
// are short — a BYE, a feature-code call — and not counted.)
func ownGoroutines() int {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return 0
	}
	mark := []byte(`"` + goroutineLabel + `":`)
	n := 0
	// Records are "N @ pc…", then "# labels: {…}" when labelled.
	for _, rec := range bytes.Split(buf.Bytes(), []byte("\n\n")) {
		head, rest, _ := bytes.Cut(rec, []byte("\n"))
		count, _, ok := bytes.Cut(head, []byte(" @ "))
		if !ok {
			// The profile's first record has its title line before it.
			if _, after, found := bytes.Cut(rec, []byte("\n")); found {
				head, rest, _ = bytes.Cut(after, []byte("\n"))
				count, _, ok = bytes.Cut(head, []byte(" @ "))
			}
			if !ok {
				continue
			}
		}
		labels, _, _ := bytes.Cut(rest, []byte("\n"))
		if !bytes.HasPrefix(labels, []byte("# labels:")) || !bytes.Contains(labels, mark) {
			continue
		}
		c, err := strconv.Atoi(string(count))
		if err == nil {
			n += c
		}
	}
	return n
}
