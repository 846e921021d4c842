package cdr

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Writer appends records to one CSV file per UTC day and instance
// (cdr-<instance>-<YYYY-MM-DD>.csv), header first. Each row is built in
// memory and written with a single write followed by fsync, so a crash
// leaves a row complete or absent. Write returns only after the fsync.
type Writer struct {
	dir      string
	instance string
	mu       sync.Mutex // serialises appends to the one open file
	day      string
	f        *os.File
	now      func() time.Time
}

// NewWriter creates dir if needed.
func NewWriter(dir, instance string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cdr dir %s: %w", dir, err)
	}
	return &Writer{dir: dir, instance: instance, now: time.Now}, nil
}

// Path returns the file a record written at t goes to.
func (w *Writer) Path(t time.Time) string {
	return filepath.Join(w.dir, fmt.Sprintf("cdr-%s-%s.csv", w.instance, t.UTC().Format("2006-01-02")))
}

// Write appends one record durably.
func (w *Writer) Write(r Record) error {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	if err := cw.Write(r.Fields()); err != nil {
		return err
	}
	cw.Flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.openLocked(); err != nil {
		return err
	}
	if _, err := w.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("cdr write %s: %w", w.f.Name(), err)
	}
	return w.f.Sync()
}

func (w *Writer) openLocked() error {
	now := w.now()
	day := now.UTC().Format("2006-01-02")
	if w.f != nil && w.day == day {
		return nil
	}
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
	path := w.Path(now)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("cdr open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if st.Size() == 0 {
		var hb bytes.Buffer
		cw := csv.NewWriter(&hb)
		_ = cw.Write(Header)
		cw.Flush()
		if _, err := f.Write(hb.Bytes()); err != nil {
			f.Close()
			return fmt.Errorf("cdr header %s: %w", path, err)
		}
	}
	w.f, w.day = f, day
	return nil
}

// Close flushes and closes the current file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := errors.Join(w.f.Sync(), w.f.Close())
	w.f = nil
	return err
}
