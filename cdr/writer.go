package cdr

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// file is what the writer needs of an *os.File (tests inject failures).
type file interface {
	io.Writer
	io.ReaderAt
	Sync() error
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Close() error
	Name() string
}

// Writer appends records to one CSV file per UTC day and instance
// (cdr-<instance>-<YYYY-MM-DD>.csv), header first. Each row is one write
// followed by fsync; a write that fails half-way is cut back, and a torn
// last line left by a crash is cut off when the file is opened again, so a
// row is complete or absent.
//
// When the disk is full or read-only, rows go to an in-memory spool (in
// order), an alert is raised (log, sc115_cdr_spooled_rows,
// sc115_cdr_write_errors_total) and the spool is retried every few
// seconds; calls keep flowing. At Close, rows still spooled are written to
// a fallback file cdr-<instance>-spool-<time>.csv in SpoolDir (default:
// the CDR directory itself, where billing finds it without a move; never
// the temp dir, which a service's PrivateTmp deletes at stop).
type Writer struct {
	// Now is the clock that dates the files (tests set it before writing).
	Now func() time.Time
	// SpoolDir is where Close writes rows still spooled; "" means the CDR
	// directory. Set it before the first Write.
	SpoolDir string

	dir      string
	instance string
	log      zerolog.Logger
	open     func(name string) (file, error)

	mu       sync.Mutex // serialises appends to the one open file
	day      string
	f        file
	spool    [][]byte
	retrying bool
	closed   chan struct{}

	spooled prometheus.Gauge
	errors  prometheus.Counter
}

// NewWriter creates dir if needed; reg and log receive the disk alerts.
func NewWriter(dir, instance string, reg prometheus.Registerer, log zerolog.Logger) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cdr dir %s: %w", dir, err)
	}
	w := &Writer{dir: dir, instance: instance, log: log, Now: time.Now, closed: make(chan struct{}),
		open: func(name string) (file, error) {
			return os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o640)
		},
		spooled: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sc115_cdr_spooled_rows", Help: "CDR rows waiting in memory because the disk refused them (alert when > 0)."}),
		errors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "sc115_cdr_write_errors_total", Help: "Failed CDR writes (disk full, read-only, …)."}),
	}
	if reg != nil {
		reg.MustRegister(w.spooled, w.errors)
	}
	return w, nil
}

// Path returns the file a record written at t goes to.
func (w *Writer) Path(t time.Time) string {
	return filepath.Join(w.dir, fmt.Sprintf("cdr-%s-%s.csv", w.instance, t.UTC().Format("2006-01-02")))
}

// pathFor is the file rows of day t go to: Path(t), unless an earlier
// version of sc115 wrote it with other columns — then the first of
// cdr-<instance>-<day>.2.csv, .3.csv … that is new or has this version's
// header, so one file never mixes two layouts.
func (w *Writer) pathFor(t time.Time) string {
	p := w.Path(t)
	for n := 2; n < 100; n++ {
		head := headerOf(p)
		if head == nil || strings.Join(head, ",") == strings.Join(Header, ",") {
			return p
		}
		p = strings.TrimSuffix(w.Path(t), ".csv") + "." + strconv.Itoa(n) + ".csv"
	}
	return p
}

// dayPaths are the files rows of day t may be in (Path and its .N.csv
// successors).
func (w *Writer) dayPaths(t time.Time) []string {
	base := w.Path(t)
	more, _ := filepath.Glob(strings.TrimSuffix(base, ".csv") + ".*.csv")
	return append([]string{base}, more...)
}

// CSVLine is one CSV row (RFC 4180, as encoding/csv writes it).
func CSVLine(fields []string) []byte {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write(fields)
	cw.Flush()
	return buf.Bytes()
}

// Write stores one record durably: on disk (fsync'ed) when Write returns,
// or, if the disk refuses it, in the spool (nil error: the row is kept and
// retried; the alert is raised).
func (w *Writer) Write(r Record) error {
	row := CSVLine(r.Fields())
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.spool) == 0 {
		if err := w.appendLocked(row); err == nil {
			return nil
		} else {
			w.alertLocked(err)
		}
	}
	w.spool = append(w.spool, row)
	w.spooled.Set(float64(len(w.spool)))
	w.flushLocked()
	if len(w.spool) > 0 && !w.retrying {
		w.retrying = true
		go w.retry()
	}
	return nil
}

func (w *Writer) alertLocked(err error) {
	w.errors.Inc()
	w.log.Error().Err(err).Int("spooled_rows", len(w.spool)+1).Msg("ALERT: CDR could not be written to disk; kept in memory and retried")
}

// flushLocked writes spooled rows in order until one fails.
func (w *Writer) flushLocked() {
	for len(w.spool) > 0 {
		if err := w.appendLocked(w.spool[0]); err != nil {
			return
		}
		w.spool = w.spool[1:]
		w.spooled.Set(float64(len(w.spool)))
	}
	if w.spool != nil {
		w.spool = nil
		w.log.Info().Msg("CDR spool written to disk")
	}
}

func (w *Writer) retry() {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-w.closed:
			return
		case <-t.C:
		}
		w.mu.Lock()
		w.flushLocked()
		done := len(w.spool) == 0
		if done {
			w.retrying = false
		}
		w.mu.Unlock()
		if done {
			return
		}
	}
}

// appendLocked writes one row to today's file and fsyncs it; a failed
// write is cut back so no torn row remains.
func (w *Writer) appendLocked(row []byte) error {
	if err := w.openLocked(); err != nil {
		return err
	}
	st, err := w.f.Stat()
	if err != nil {
		return err
	}
	if _, err := w.f.Write(row); err != nil {
		_ = w.f.Truncate(st.Size())
		w.closeFileLocked()
		return fmt.Errorf("cdr write %s: %w", w.Path(w.Now()), err)
	}
	if err := w.f.Sync(); err != nil {
		_ = w.f.Truncate(st.Size())
		w.closeFileLocked()
		return fmt.Errorf("cdr fsync %s: %w", w.Path(w.Now()), err)
	}
	return nil
}

func (w *Writer) closeFileLocked() {
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
}

func (w *Writer) openLocked() error {
	day := w.Now().UTC().Format("2006-01-02")
	if w.f != nil && w.day == day {
		return nil
	}
	w.closeFileLocked()
	path := w.pathFor(w.Now())
	f, err := w.open(path)
	if err != nil {
		return fmt.Errorf("cdr open %s: %w", path, err)
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if st.Size() == 0 {
		if _, err := f.Write(CSVLine(Header)); err != nil {
			_ = f.Truncate(0)
			f.Close()
			return fmt.Errorf("cdr header %s: %w", path, err)
		}
	}
	w.f, w.day = f, day
	return nil
}

// repairTail cuts a torn last line (no trailing newline), as a crash in
// the middle of a write could leave it.
func repairTail(f file) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	size := st.Size()
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	buf := make([]byte, min(size, 64<<10))
	off := size - int64(len(buf))
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return err
	}
	cut := int64(0)
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		cut = off + int64(i) + 1
	}
	return f.Truncate(cut)
}

// Spooled is the number of rows waiting in memory for the disk.
func (w *Writer) Spooled() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.spool)
}

// Close flushes and closes the current file; rows still spooled go to a
// fallback file in SpoolDir (its name is in the error).
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.closed:
	default:
		close(w.closed)
	}
	w.flushLocked()
	var err error
	if len(w.spool) > 0 {
		dir := w.SpoolDir
		if dir == "" {
			dir = w.dir
		}
		fallback := filepath.Join(dir, fmt.Sprintf("cdr-%s-spool-%s.csv", w.instance, time.Now().UTC().Format("20060102T150405.000000000Z")))
		data := bytes.Join(append([][]byte{CSVLine(Header)}, w.spool...), nil)
		if werr := os.WriteFile(fallback, data, 0o640); werr != nil {
			err = fmt.Errorf("%d CDR rows could not be written anywhere (%v); they are in the log", len(w.spool), werr)
			for _, row := range w.spool {
				w.log.Error().Str("cdr_row", string(row)).Msg("unwritten CDR row")
			}
		} else {
			err = fmt.Errorf("%d CDR rows written to fallback file %s (billing reads it below the CDR dir; move it there if it is elsewhere)", len(w.spool), fallback)
		}
	}
	w.closeFileLocked()
	return err
}
