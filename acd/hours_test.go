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

// TestServiceTimeDue: "due within N hours of service time" counts only
// opening time (Mon–Fri 08:00–18:00, Lower Saxony holidays, 24/31 Dec).
// The example "Friday 17:00 + 24 service hours = Tuesday 13:00"
// fits 16 service hours (1 h Friday, 10 h Monday, 5 h Tuesday); 24 end on
// Wednesday at 11:00. Both are in the table.
func TestServiceTimeDue(t *testing.T) {
	s, err := compileHours(DefaultHours(), "acd.hours")
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(m time.Month, d, hh, mm int) time.Time { return time.Date(2026, m, d, hh, mm, 0, 0, berlin) }
	for _, c := range []struct {
		what  string
		from  time.Time
		hours time.Duration
		want  time.Time
	}{
		{"Friday 17:00 + 16 h (the issue's Tuesday 13:00)", at(11, 27, 17, 0), 16, at(12, 1, 13, 0)},
		{"Friday 17:00 + 24 h: over the weekend", at(11, 27, 17, 0), 24, at(12, 2, 11, 0)},
		{"Tuesday 10:00 + 24 h", at(11, 24, 10, 0), 24, at(11, 26, 14, 0)},
		{"created at night: counting starts at 08:00", at(11, 24, 22, 30), 24, at(11, 27, 12, 0)},
		{"Saturday: from Monday 08:00", at(11, 28, 11, 0), 24, at(12, 2, 12, 0)},
		{"exactly at closing: Friday 18:00 + 1 h → Monday 09:00", at(11, 27, 18, 0), 1, at(11, 30, 9, 0)},
		{"Maundy Thursday 2026 12:00 + 24 h: Good Friday, Easter Monday closed", at(4, 2, 12, 0), 24, at(4, 8, 16, 0)},
		{"before Ascension (Thu 14 May) and the weekend", at(5, 13, 16, 0), 24, at(5, 19, 10, 0)},
		{"Whit Monday (25 May) closed", at(5, 22, 9, 0), 24, at(5, 27, 13, 0)},
		{"23 Dec 2026 (Wed) 15:00: 24, 25, 26 Dec and Sunday closed", at(12, 23, 15, 0), 24, at(12, 30, 9, 0)},
		{"30 Dec 2026 09:00 + 24 h: 31 Dec, New Year and the weekend closed", at(12, 30, 9, 0), 24, time.Date(2027, 1, 5, 13, 0, 0, 0, berlin)},
		{"across the DST change (Fri 27 Mar 2026)", at(3, 27, 17, 0), 24, at(4, 1, 11, 0)},
	} {
		got, ok := s.addServiceTime(c.from, c.hours*time.Hour)
		if !ok || !got.Equal(c.want) {
			t.Errorf("%s: %s + %v = %s, want %s", c.what, c.from.Format("Mon 2006-01-02 15:04"), c.hours*time.Hour, got.In(berlin).Format("Mon 2006-01-02 15:04"), c.want.Format("Mon 2006-01-02 15:04"))
		}
	}
	never, _ := compileHours(Hours{Holidays: "none"}, "acd.hours")
	if _, ok := never.addServiceTime(at(11, 24, 10, 0), time.Hour); ok {
		t.Error("hours that never open have no due time")
	}
}
