package billing

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
)

// BenchmarkBillMonth bills one month of 1,000,000 CDRs (generated: 31 daily
// files of two instances, five municipalities) and reports the time per
// run and the peak heap.
func BenchmarkBillMonth(b *testing.B) {
	const calls = 1_000_000
	dir := b.TempDir()
	p, _ := ParsePeriod("2026-10")
	munis := []MunicipalityInfo{{Key: "hannover", Population: 535000}, {Key: "burgdorf", Population: 31000},
		{Key: "lehrte", Population: 45000}, {Key: "garbsen", Population: 61000}, {Key: "wunstorf", Population: 42000}}
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string]*bufio.Writer{}
	var osFiles []*os.File
	for i := 0; i < calls; i++ {
		at := p.From.Add(time.Duration(rng.Int64N(int64(p.To.Sub(p.From)))))
		inst := fmt.Sprintf("hannover-%d", 1+i%2)
		name := filepath.Join(dir, fmt.Sprintf("cdr-%s-%s.csv", inst, at.UTC().Format("2006-01-02")))
		w := files[name]
		if w == nil {
			f, err := os.Create(name)
			if err != nil {
				b.Fatal(err)
			}
			osFiles = append(osFiles, f)
			w = bufio.NewWriterSize(f, 1<<20)
			w.Write(cdr.CSVLine(cdr.Header))
			files[name] = w
		}
		r := cdr.Record{CallID: fmt.Sprintf("%016x-%d", rng.Uint64(), i), Instance: inst, Municipality: munis[rng.IntN(5)].Key,
			DialedNumber: "+495136115", Caller: "+495136123xxx", CallerPrivacy: "shortened", ArrivedAt: at, QueuedAt: at,
			EndedAt: at.Add(5 * time.Minute), WaitMS: rng.Int64N(60_000), TalkMS: rng.Int64N(600_000), WrapupMS: rng.Int64N(90_000),
			Agent: "1003", Queue: "burgdorf", Disposition: cdr.Answered, HangupBy: "caller", SIPCode: 200, Attempts: 1}
		if i%10 == 0 {
			r.Disposition = cdr.Abandoned
		} else {
			r.AnsweredAt = at
		}
		w.Write(cdr.CSVLine(r.Fields()))
	}
	for _, w := range files {
		w.Flush()
	}
	for _, f := range osFiles {
		f.Close()
	}
	cfg := BillingConfig{DefaultTariff: "std", Tariffs: map[string]Tariff{"std": {Model: "per_minute", PerMinuteCents: 150, Increment: "60/1"}}}
	if err := cfg.Validate(map[string]bool{"hannover": true, "burgdorf": true, "lehrte": true, "garbsen": true, "wunstorf": true}); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		invs, st, err := Bill(dir, p, cfg, munis)
		if err != nil || st.Rows != calls || len(invs) != 5 {
			b.Fatalf("bill: %v, %d rows", err, st.Rows)
		}
	}
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(calls), "cdrs")
}
