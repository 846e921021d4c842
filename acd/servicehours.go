package acd

import "time"

// Service time (issue 16, callback tickets): a ticket is due "within 24
// hours of service time", i.e. after that much time during which the
// municipality is open, counted with the same calendar as isOpen
// (weekly hours, Lower Saxony holidays, closed and special days).

// maxServiceDays bounds the walk: a schedule that never opens has no due
// time (a year of closed days is a configuration mistake, not a date).
const maxServiceDays = 400

// daySpans are the opening spans of the Berlin day that starts at
// midnight (special days first, then closed days and holidays, then the
// week), as isOpen judges them.
func (s *schedule) daySpans(midnight time.Time) []span {
	day := midnight.Format("2006-01-02")
	if sp, ok := s.open[day]; ok {
		return sp
	}
	if s.closed[day] || s.closed[midnight.Format("01-02")] {
		return nil
	}
	if s.holiday != nil {
		if actual, _, _ := s.holiday.IsHoliday(midnight); actual {
			return nil
		}
	}
	return s.weekly[midnight.Weekday()]
}

// addServiceTime returns the instant at which d of opening time will
// have passed after from, and false if the hours do not open within
// maxServiceDays. Spans are wall-clock times, so a DST day needs no care;
// a range's inclusive last second (18:00:00) is its end.
func (s *schedule) addServiceTime(from time.Time, d time.Duration) (time.Time, bool) {
	from = from.In(s.loc)
	y, m, dd := from.Date()
	for i := 0; i < maxServiceDays; i++ {
		midnight := time.Date(y, m, dd+i, 0, 0, 0, 0, s.loc)
		for _, sp := range s.daySpans(midnight) {
			end := sp.to
			if end%time.Minute != 0 {
				end += time.Second // "until 24:00" was kept as 23:59:59
			}
			start := wallClock(midnight, sp.from)
			stop := wallClock(midnight, end)
			if stop.Before(from) || !stop.After(start) {
				continue
			}
			if start.Before(from) {
				start = from
			}
			left := stop.Sub(start)
			if d <= left {
				return start.Add(d), true
			}
			d -= left
		}
	}
	return time.Time{}, false
}

// wallClock is the instant at time of day tod on the day of midnight, on
// the wall clock (time.Date normalises 24:00 to the next midnight).
func wallClock(midnight time.Time, tod time.Duration) time.Time {
	y, m, d := midnight.Date()
	secs := int(tod / time.Second)
	return time.Date(y, m, d, secs/3600, secs/60%60, secs%60, 0, midnight.Location())
}
