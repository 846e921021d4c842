package cdr

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestWriterHeaderRowsAndDailyFiles(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, "hannover-1", nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2026, 10, 31, 23, 59, 59, 0, time.UTC)
	w.Now = func() time.Time { return day1 }
	rec := Record{CallID: "abc", Instance: "hannover-1", Municipality: "burgdorf", DialedNumber: "+495136115",
		Caller: "+495136123xxx", ArrivedAt: day1.Add(-90 * time.Second), AnsweredAt: day1.Add(-80 * time.Second),
		EndedAt: day1, WaitMS: 10000, TalkMS: 80000, WrapupMS: 30000, Agent: "1003", Disposition: Answered}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	rec2 := rec
	rec2.CallID, rec2.Agent, rec2.Disposition = `we,"ird`, "", Abandoned
	if err := w.Write(rec2); err != nil {
		t.Fatal(err)
	}
	w.Now = func() time.Time { return day1.Add(2 * time.Second) } // next UTC day: new file
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	f1 := filepath.Join(dir, "cdr-hannover-1-2026-10-31.csv")
	rows := readCSV(t, f1)
	if strings.Join(rows[0], ",") != strings.Join(Header, ",") {
		t.Errorf("header %v", rows[0])
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows in %s, want header + 2", len(rows), f1)
	}
	want := "abc,hannover-1,burgdorf,+495136115,+495136123xxx,,2026-10-31T23:58:29.000Z,,2026-10-31T23:58:39.000Z,2026-10-31T23:59:59.000Z,,10000,0,80000,0,30000,1003,,answered,,,0,0,,,,0,,,,0,"
	if got := strings.Join(rows[1], ","); got != want {
		t.Errorf("row\n got %s\nwant %s", got, want)
	}
	if rows[2][0] != `we,"ird` || rows[2][18] != "abandoned" || rows[2][16] != "" {
		t.Errorf("quoted row read back as %v", rows[2])
	}
	if rows := readCSV(t, filepath.Join(dir, "cdr-hannover-1-2026-11-01.csv")); len(rows) != 2 {
		t.Errorf("next day's file: %d rows, want header + 1", len(rows))
	}
}

func TestWriterAppendsToExistingFileWithoutSecondHeader(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ { // two starts of sc115 on the same day
		w, err := NewWriter(dir, "i", nil, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(Record{CallID: "c", Disposition: Answered}); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	if rows := readCSV(t, files[0]); len(rows) != 3 || rows[1][0] != "c" || rows[2][0] != "c" {
		t.Errorf("rows %v, want one header and two rows", rows)
	}
}

func TestWriterReportsUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores permissions; use a path under a regular file instead.
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		if _, err := NewWriter(filepath.Join(f, "cdr"), "i", nil, zerolog.Nop()); err == nil {
			t.Fatal("want an error for a CDR dir under a file")
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	w, _ := NewWriter(dir, "i", nil, zerolog.Nop())
	if err := w.Write(Record{CallID: "c"}); err == nil {
		t.Fatal("want an error writing into a read-only dir")
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestPrivacy(t *testing.T) {
	short := NewPrivacy(Config{CallerPolicy: "shorten"})
	if got := short.Caller("+495136123456", false); got != "+495136123xxx" {
		t.Errorf("shorten: %q", got)
	}
	if got := short.Caller("+495136123456", true); got != "anonymous" {
		t.Errorf("withheld: %q, want anonymous", got)
	}
	if got := NewPrivacy(Config{CallerPolicy: "full"}).Caller("+495136123456", false); got != "+495136123456" {
		t.Errorf("full: %q", got)
	}
	h := NewPrivacy(Config{CallerPolicy: "hash", HashKey: "0123456789abcdef"})
	a, b := h.Caller("+495136123456", false), h.Caller("+495136123457", false)
	if !strings.HasPrefix(a, "h:") || a == b || strings.Contains(a, "5136") || a != h.Caller("+495136123456", false) {
		t.Errorf("hash: %q %q: want stable, distinct, no digits of the number", a, b)
	}
	other := NewPrivacy(Config{CallerPolicy: "hash", HashKey: "fedcba9876543210"})
	if other.Caller("+495136123456", false) == a {
		t.Error("hash must depend on the key")
	}
}

func TestTornTailIsCutOnOpen(t *testing.T) {
	dir := t.TempDir()
	w, _ := NewWriter(dir, "i", nil, zerolog.Nop())
	_ = w.Write(Record{CallID: "whole", Disposition: Answered})
	w.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	f, _ := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("torn,hannover-1,burg") // a crash in the middle of a row
	f.Close()
	w, _ = NewWriter(dir, "i", nil, zerolog.Nop())
	_ = w.Write(Record{CallID: "next", Disposition: Answered})
	w.Close()
	rows := readCSV(t, files[0])
	if len(rows) != 3 || rows[1][0] != "whole" || rows[2][0] != "next" {
		t.Errorf("rows %v, want header, whole, next", rows)
	}
}

// failingFile refuses writes while full is set, like a full disk.
type failingFile struct {
	*os.File
	full *bool
}

func (f failingFile) Write(p []byte) (int, error) {
	if *f.full {
		n, _ := f.File.Write(p[:len(p)/2]) // a partial write, then ENOSPC
		return n, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func TestFullDiskSpoolsAndRetries(t *testing.T) {
	dir := t.TempDir()
	full := false
	w, _ := NewWriter(dir, "i", nil, zerolog.Nop())
	w.open = func(name string) (file, error) {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o640)
		if err != nil {
			return nil, err
		}
		return failingFile{f, &full}, nil
	}
	_ = w.Write(Record{CallID: "before", Disposition: Answered})
	full = true
	for _, id := range []string{"a", "b", "c"} {
		if err := w.Write(Record{CallID: id, Disposition: Answered}); err != nil {
			t.Fatalf("write while full: %v (calls must keep flowing)", err)
		}
	}
	if n := w.Spooled(); n != 3 {
		t.Fatalf("spooled %d, want 3", n)
	}
	full = false // space again: the retry writes the spool in order
	deadline := time.Now().Add(30 * time.Second)
	for w.Spooled() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	_ = w.Write(Record{CallID: "after", Disposition: Answered})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	var ids []string
	for _, r := range readCSV(t, files[0])[1:] {
		ids = append(ids, r[0])
	}
	if strings.Join(ids, ",") != "before,a,b,c,after" {
		t.Errorf("rows %v, want before,a,b,c,after with no torn half-rows", ids)
	}
}

// TestSpoolLeftAtCloseGoesBesideTheCDRs: rows the disk still refuses at
// shutdown are written to a fallback file in the CDR directory (not the
// temp dir, which systemd's PrivateTmp deletes at stop), where billing
// reads them; with spool_dir set, to that folder instead.
func TestSpoolLeftAtCloseGoesBesideTheCDRs(t *testing.T) {
	for _, own := range []bool{false, true} {
		dir, spoolDir := t.TempDir(), t.TempDir()
		full := true
		w, _ := NewWriter(dir, "i", nil, zerolog.Nop())
		if own {
			w.SpoolDir = spoolDir
		}
		w.open = func(name string) (file, error) {
			f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o640)
			if err != nil {
				return nil, err
			}
			return failingFile{f, &full}, nil
		}
		for _, id := range []string{"a", "b"} {
			if err := w.Write(Record{CallID: id, Municipality: "burgdorf", Disposition: Answered}); err != nil {
				t.Fatal(err)
			}
		}
		err := w.Close()
		where := dir
		if own {
			where = spoolDir
		}
		files, _ := filepath.Glob(filepath.Join(where, "cdr-i-spool-*.csv"))
		if err == nil || len(files) != 1 || !strings.Contains(err.Error(), files[0]) {
			t.Fatalf("spool_dir set %v: close said %v, fallback files %v in %s", own, err, files, where)
		}
		recs, _, rerr := Read(where)
		if rerr != nil || len(recs) != 2 || recs[0].CallID != "a" || recs[1].CallID != "b" {
			t.Errorf("spool_dir set %v: billing reads %v (%v), want a and b", own, recs, rerr)
		}
	}
}

// TestVersion1FilesStayReadable: a day's file written before transfers
// (23 columns) is read as rows without a transfer, and this version does
// not append its wider rows to it but starts the day's next file.
func TestVersion1FilesStayReadable(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	old := strings.Join(headerV1, ",") + "\n" +
		"old-1,hannover-1,burgdorf,+495136115,+495136123xxx,shortened,2026-12-01T08:00:00.000Z,,2026-12-01T08:00:10.000Z,2026-12-01T08:02:10.000Z,2026-12-01T08:02:40.000Z,10000,0,120000,0,30000,1003,burgdorf,answered,,caller,200,1\n"
	if err := os.WriteFile(filepath.Join(dir, "cdr-hannover-1-2026-12-01.csv"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(dir, "hannover-1", nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	w.Now = func() time.Time { return day }
	rec := Record{CallID: "new-1", Instance: "hannover-1", Municipality: "burgdorf", ArrivedAt: day, AnsweredAt: day, EndedAt: day.Add(time.Minute),
		TalkMS: 60000, Agent: "1003", Disposition: Answered, TransferKind: "blind", TransferTarget: "+4951361890", TransferredBy: "1003", TransferMS: 42000}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.Written([]string{"old-1", "new-1"}, day); !got["old-1"] || !got["new-1"] {
		t.Errorf("written %v, want both", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if rows := readCSV(t, filepath.Join(dir, "cdr-hannover-1-2026-12-01.2.csv")); len(rows) != 2 || strings.Join(rows[0], ",") != strings.Join(Header, ",") {
		t.Fatalf("the day's next file: %v", rows)
	}
	recs, stats, err := Read(dir)
	if err != nil || len(stats.Bad) != 0 || len(recs) != 2 {
		t.Fatalf("read %d records, bad %v, %v", len(recs), stats.Bad, err)
	}
	byID := map[string]Record{}
	for _, r := range recs {
		byID[r.CallID] = r
	}
	if r := byID["old-1"]; r.TalkMS != 120000 || r.TransferKind != "" || r.TransferMS != 0 {
		t.Errorf("old row %+v", r)
	}
	if r := byID["new-1"]; r.TransferKind != "blind" || r.TransferTarget != "+4951361890" || r.TransferMS != 42000 {
		t.Errorf("new row %+v", r)
	}
}

// TestVersion2FilesStayReadable: a file written with transfers but before
// the wrap-up outcome (28 columns) reads as rows without an outcome next
// to this version's rows with one.
func TestVersion2FilesStayReadable(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	old := strings.Join(headerV2, ",") + "\n" +
		"old-2,hannover-1,burgdorf,+495136115,+495136123xxx,shortened,2026-12-02T08:00:00.000Z,,2026-12-02T08:00:10.000Z,2026-12-02T08:02:10.000Z,2026-12-02T08:02:40.000Z,10000,0,120000,0,30000,1003,burgdorf,answered,,caller,200,1,blind,+4951361890,1003,5000,\n"
	if err := os.WriteFile(filepath.Join(dir, "cdr-hannover-1-2026-12-02.csv"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(dir, "hannover-1", nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	w.Now = func() time.Time { return day }
	if err := w.Write(Record{CallID: "new-2", Instance: "hannover-1", Municipality: "burgdorf", ArrivedAt: day, AnsweredAt: day,
		EndedAt: day.Add(time.Minute), TalkMS: 60000, Agent: "1003", Disposition: Answered, Outcome: "resolved"}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	recs, stats, err := Read(dir)
	if err != nil || len(stats.Bad) != 0 || len(recs) != 2 {
		t.Fatalf("read %d records, bad %v, %v", len(recs), stats.Bad, err)
	}
	byID := map[string]Record{}
	for _, r := range recs {
		byID[r.CallID] = r
	}
	if r := byID["old-2"]; r.TransferMS != 5000 || r.Outcome != "" {
		t.Errorf("old row %+v", r)
	}
	if r := byID["new-2"]; r.Outcome != "resolved" {
		t.Errorf("new row %+v", r)
	}
}

// TestVersion3FilesStayReadable: a file written with outcomes but before
// callbacks (29 columns) reads as rows without a callback next to this
// version's rows with one.
func TestVersion3FilesStayReadable(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	old := strings.Join(headerV3, ",") + "\n" +
		"old-3,hannover-1,burgdorf,+495136115,+495136123xxx,shortened,2026-12-02T08:00:00.000Z,,2026-12-02T08:00:10.000Z,2026-12-02T08:02:10.000Z,2026-12-02T08:02:40.000Z,10000,0,120000,0,30000,1003,burgdorf,answered,,caller,200,1,,,,0,,resolved\n"
	if err := os.WriteFile(filepath.Join(dir, "cdr-hannover-1-2026-12-02.csv"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(dir, "hannover-1", nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	w.Now = func() time.Time { return day }
	if err := w.Write(Record{CallID: "new-3", Instance: "hannover-1", Municipality: "burgdorf", ArrivedAt: day, AnsweredAt: day.Add(time.Hour),
		EndedAt: day.Add(2 * time.Hour), TalkMS: 60000, Agent: "1003", Disposition: Answered,
		CallbackRequestedAt: day.Add(time.Minute), CallbackAttempts: 2, CallbackAnsweredAt: day.Add(time.Hour + 10*time.Second)}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	recs, stats, err := Read(dir)
	if err != nil || len(stats.Bad) != 0 || len(recs) != 2 {
		t.Fatalf("read %d records, bad %v, %v", len(recs), stats.Bad, err)
	}
	byID := map[string]Record{}
	for _, r := range recs {
		byID[r.CallID] = r
	}
	if r := byID["old-3"]; r.Outcome != "resolved" || r.CallbackAttempts != 0 || !r.CallbackRequestedAt.IsZero() {
		t.Errorf("old row %+v", r)
	}
	if r := byID["new-3"]; r.CallbackAttempts != 2 || !r.CallbackRequestedAt.Equal(day.Add(time.Minute)) ||
		!r.CallbackAnsweredAt.Equal(day.Add(time.Hour+10*time.Second)) {
		t.Errorf("new row %+v", r)
	}
}
