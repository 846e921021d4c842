package acd

import (
	"testing"
	"time"
)

func TestOpeningHoursCalendar(t *testing.T) {
	h := DefaultHours()
	h.Weekly["fri"] = "08:00-14:00"
	h.OpenDays = map[string]string{"2026-12-27": "10:00-14:00"} // a Sunday opened for a crisis
	s, err := compileHours(h, "acd.hours")
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(y int, m time.Month, d, hh, mm, ss int) time.Time {
		return time.Date(y, m, d, hh, mm, ss, 0, berlin)
	}
	for _, c := range []struct {
		what string
		t    time.Time
		open bool
	}{
		{"Tuesday 10:00", at(2026, 11, 24, 10, 0, 0), true},
		{"Tuesday 07:59:59", at(2026, 11, 24, 7, 59, 59), false},
		{"Tuesday 18:00:00 (last second)", at(2026, 11, 24, 18, 0, 0), true},
		{"Tuesday 18:00:01", at(2026, 11, 24, 18, 0, 1), false},
		{"Friday 14:00:01 (short Friday)", at(2026, 11, 27, 14, 0, 1), false},
		{"Saturday", at(2026, 11, 28, 10, 0, 0), false},
		{"Good Friday 2026", at(2026, 4, 3, 10, 0, 0), false},
		{"Easter Monday 2026", at(2026, 4, 6, 10, 0, 0), false},
		{"Whit Monday 2026", at(2026, 5, 25, 10, 0, 0), false},
		{"Ascension 2026", at(2026, 5, 14, 10, 0, 0), false},
		{"Reformation Day (Saturday in 2026) → check 2025, a Friday", at(2025, 10, 31, 10, 0, 0), false},
		{"3 October 2025 (Friday)", at(2025, 10, 3, 10, 0, 0), false},
		{"24 December 2025 (extra closed day)", at(2025, 12, 24, 10, 0, 0), false},
		{"23 December 2025", at(2025, 12, 23, 10, 0, 0), true},
		{"Sunday 27 Dec 2026, special opening", at(2026, 12, 27, 11, 0, 0), true},
		{"… but not after 14:00", at(2026, 12, 27, 14, 0, 1), false},
		{"DST begins 29 Mar 2026 (Sunday) → Monday 30 Mar 08:00", at(2026, 3, 30, 8, 0, 0), true},
		{"DST ends Monday after 25 Oct 2026 → 26 Oct 17:59", at(2026, 10, 26, 17, 59, 0), true},
	} {
		if got := s.isOpen(c.t); got != c.open {
			t.Errorf("%s (%s): open=%v, want %v", c.what, c.t.Format(time.RFC3339), got, c.open)
		}
	}
	// The same instant in UTC: 17:00 UTC in winter is 18:00 in Berlin (open), in summer 19:00 (closed).
	if !s.isOpen(time.Date(2026, 11, 24, 17, 0, 0, 0, time.UTC)) || s.isOpen(time.Date(2026, 6, 23, 17, 0, 0, 0, time.UTC)) {
		t.Error("UTC instants are not judged on Berlin wall-clock time")
	}
	always, _ := compileHours(AlwaysOpen(), "")
	for _, tt := range []time.Time{at(2026, 12, 24, 23, 59, 59), at(2026, 12, 25, 0, 0, 0), at(2026, 4, 3, 12, 0, 0)} {
		if !always.isOpen(tt) {
			t.Errorf("always open is closed at %v", tt)
		}
	}
	if _, err := compileHours(Hours{Weekly: map[string]string{"mon": "18:00-08:00"}}, "acd.hours"); err == nil {
		t.Error("a range ending before it starts must be an error")
	}
}
