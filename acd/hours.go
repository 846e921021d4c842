package acd

import (
	"fmt"
	"strings"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/de"
)

// Hours are a municipality's opening hours: per weekday, minus public
// holidays of Lower Saxony (github.com/rickar/cal/v2, de.HolidaysNI) and
// extra closed days, plus special opening days. Times are Europe/Berlin.
// A range "08:00-18:00" includes its last second: 18:00:00 is open,
// 18:00:01 closed.
type Hours struct {
	// Weekly: mon … sun → "08:00-18:00" (several ranges: "08:00-12:00,13:00-18:00"); a missing day is closed.
	Weekly map[string]string `yaml:"weekly"`
	// Holidays: "NI" (Lower Saxony, default) or "none".
	Holidays string `yaml:"holidays"`
	// ClosedDays: "12-24" (every year) or "2026-12-28".
	ClosedDays []string `yaml:"closed_days"`
	// OpenDays: special opening days, "2026-12-27": "10:00-14:00"; they win over everything.
	OpenDays map[string]string `yaml:"open_days"`
}

// DefaultHours: Monday–Friday 08:00–18:00, NI holidays, 24 and 31 December closed.
func DefaultHours() Hours {
	d := "08:00-18:00"
	return Hours{Weekly: map[string]string{"mon": d, "tue": d, "wed": d, "thu": d, "fri": d}, Holidays: "NI", ClosedDays: []string{"12-24", "12-31"}}
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

type span struct{ from, to time.Duration } // since midnight; to inclusive (last second)

// schedule is Hours compiled for fast checks.
type schedule struct {
	loc     *time.Location
	weekly  [7][]span
	closed  map[string]bool // "MM-DD" or "YYYY-MM-DD"
	open    map[string][]span
	holiday *cal.Calendar
}

// clock parses HH:MM into time since midnight; 24:00 is the end of day.
func clock(s string) (time.Duration, error) {
	if s == "24:00" {
		return 24 * time.Hour, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// AlwaysOpen are opening hours of every second of every day (crisis
// hotlines; tests).
func AlwaysOpen() Hours {
	d := "00:00-24:00"
	return Hours{Weekly: map[string]string{"mon": d, "tue": d, "wed": d, "thu": d, "fri": d, "sat": d, "sun": d}, Holidays: "none"}
}

func parseSpans(s string) ([]span, error) {
	var out []span
	for _, part := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(part), "-")
		from, err1 := clock(a)
		to, err2 := clock(b)
		if !ok || err1 != nil || err2 != nil || to <= from {
			return nil, fmt.Errorf("%q: want HH:MM-HH:MM[,HH:MM-HH:MM] (24:00 = end of day)", s)
		}
		if to == 24*time.Hour {
			to -= time.Second // "until 24:00" includes 23:59:59, the last second
		}
		out = append(out, span{from, to})
	}
	return out, nil
}

func compileHours(h Hours, field string) (*schedule, error) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return nil, err
	}
	s := &schedule{loc: loc, closed: map[string]bool{}, open: map[string][]span{}}
	for day, r := range h.Weekly {
		wd, ok := weekdays[strings.ToLower(day)]
		if !ok {
			return nil, fieldErr(field+".weekly."+day, "not a weekday (mon … sun)")
		}
		sp, err := parseSpans(r)
		if err != nil {
			return nil, fieldErr(field+".weekly."+day, "%v", err)
		}
		s.weekly[wd] = sp
	}
	switch h.Holidays {
	case "", "NI":
		s.holiday = &cal.Calendar{}
		s.holiday.AddHoliday(de.HolidaysNI...)
	case "none":
	default:
		return nil, fieldErr(field+".holidays", "%q: NI or none", h.Holidays)
	}
	for i, d := range h.ClosedDays {
		if _, err := time.Parse("01-02", d); err != nil {
			if _, err := time.Parse("2006-01-02", d); err != nil {
				return nil, fieldErr(fmt.Sprintf("%s.closed_days[%d]", field, i), "%q: want MM-DD or YYYY-MM-DD", d)
			}
		}
		s.closed[d] = true
	}
	for d, r := range h.OpenDays {
		if _, err := time.Parse("2006-01-02", d); err != nil {
			return nil, fieldErr(field+".open_days."+d, "want YYYY-MM-DD")
		}
		sp, err := parseSpans(r)
		if err != nil {
			return nil, fieldErr(field+".open_days."+d, "%v", err)
		}
		s.open[d] = sp
	}
	return s, nil
}

// isOpen reports whether t falls in the opening hours.
func (s *schedule) isOpen(t time.Time) bool {
	t = t.In(s.loc)
	day := t.Format("2006-01-02")
	// Time of day on the wall clock (DST days have 23 or 25 hours).
	tod := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
	in := func(sp []span) bool {
		for _, x := range sp {
			if tod >= x.from && tod < x.to+time.Second {
				return true
			}
		}
		return false
	}
	if sp, ok := s.open[day]; ok {
		return in(sp)
	}
	if s.closed[day] || s.closed[t.Format("01-02")] {
		return false
	}
	if s.holiday != nil {
		if actual, _, _ := s.holiday.IsHoliday(t); actual {
			return false
		}
	}
	return in(s.weekly[t.Weekday()])
}
