package acd

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sc115/sc115/queue"
)

// Callback tickets (issue 16): an agent who cannot answer a question at
// first contact books a callback — municipality, number, topic — due
// "within 24 hours of service time": 24 hours during which the
// municipality is open (its opening hours, Lower Saxony's holidays, its
// closed days), so Friday 17:00 + 24 h with Mon–Fri 08–18 is Wednesday
// 11:00. Tickets wait in a queue of their own (acd.tickets.queue, a skill
// agents are given, with its strategy from acd.queues), ordered by due
// time, and are run like callbacks (callback.go): the agent's phone rings
// ("Ticket Burgdorf: Wohngeld, fällig 11:00"), then the citizen is dialed,
// with acd.callback's tries, pauses and ring time. They are not inbound
// calls: outside the service level, counted instead as open and overdue
// per municipality (GET /api/servicelevel, the wallboard).

// Tickets configures callback tickets; off without a queue.
type Tickets struct {
	// Queue is the tickets' own queue (skill), e.g. rueckruf.
	Queue string `yaml:"queue"`
	// Due is the service time a ticket is due within (default 24h).
	Due time.Duration `yaml:"due"`
}

func (t *Tickets) validate() []error {
	t.Due = cmp.Or(t.Due, 24*time.Hour)
	if t.Due < 0 {
		return []error{fieldErr("acd.tickets.due", "must be positive")}
	}
	return nil
}

// TicketRequest is what an agent books: for a municipality, the number
// to call (or the live call whose caller it is), and the topic.
type TicketRequest struct {
	Municipality string `json:"municipality"`
	Number       string `json:"number"`
	// CallID: the agent's call on this instance; its caller's number is
	// taken when Number is empty (the console never sees it in full).
	CallID string `json:"call_id"`
	Topic  string `json:"topic"`
}

// Ticket is a booked ticket.
type Ticket struct {
	ID           string    `json:"id"`
	Municipality string    `json:"municipality"`
	Topic        string    `json:"topic"`
	Due          time.Time `json:"due"`
}

// CreateTicket books a ticket for agent by (audited).
func (e *Engine) CreateTicket(ctx context.Context, by string, r TicketRequest) (Ticket, error) {
	if e.cfg.Tickets.Queue == "" {
		return Ticket{}, fmt.Errorf("%w: tickets are off (acd.tickets.queue)", errBadRequest)
	}
	var m *Municipality
	for i := range e.cfg.Municipalities {
		if e.cfg.Municipalities[i].Key == r.Municipality {
			m = &e.cfg.Municipalities[i]
		}
	}
	if m == nil {
		return Ticket{}, fmt.Errorf("%w %q", errUnknownMunicipality, r.Municipality)
	}
	number := r.Number
	if number == "" && r.CallID != "" {
		if v, ok := e.calls.Load(r.CallID); ok {
			if n, withheld := v.(*call).callerNumber(); !withheld {
				number = n
			}
		}
	}
	number = nationalNumber(strings.Map(func(c rune) rune {
		if c == ' ' || c == '-' || c == '/' {
			return -1
		}
		return c
	}, number), e.cfg.CountryCode)
	if !callbackNumberAllowed(number) {
		return Ticket{}, fmt.Errorf("%w: no number sc115 calls back (a national number, not at a premium rate)", errBadRequest)
	}
	topic := strings.TrimSpace(r.Topic)
	if r := []rune(topic); len(r) > 200 {
		topic = string(r[:200])
	}
	now := e.now()
	due, ok := now, true
	if sched := e.hours[m.Key]; sched != nil {
		due, ok = sched.addServiceTime(now, e.cfg.Tickets.Due)
	}
	if !ok {
		return Ticket{}, fmt.Errorf("%w: %s does not open within a year", errBadRequest, m.Name)
	}
	var raw [8]byte
	_, _ = rand.Read(raw[:])
	id := queue.TicketPrefix + hex.EncodeToString(raw[:])
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	fields := map[string]string{"id": id, "instance": e.Instance, "municipality": m.Key, "caller": e.Privacy.Caller(number, false),
		"privacy": e.Privacy.Kind(false), "queue": e.cfg.Tickets.Queue, "arrived": ms(now), "cb_number": number,
		"cb_requested": ms(now), "cb_attempts": "0", "topic": topic, "by": by, "priority": strconv.Itoa(m.Priority)}
	q := e.cfg.Tickets.Queue
	targets := []queue.Target{{Skill: q, MinLevel: 1, Strategy: e.cfg.settings(q).Strategy}}
	if _, err := e.Store.CreateTicket(ctx, id, queue.Score(5, due), targets, due, fields); err != nil {
		return Ticket{}, err
	}
	e.Audit(ctx, by, "ticket", id, m.Key+": "+topic)
	return Ticket{ID: id, Municipality: m.Key, Topic: topic, Due: due.UTC()}, nil
}

// ticketDisplay is what the agent's phone shows for a ticket.
func ticketDisplay(m *Municipality, topic string, due time.Time, loc *time.Location) string {
	s := "Ticket " + m.Name
	if topic != "" {
		s += ": " + topic
	}
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60])
	}
	return s + ", fällig " + due.In(loc).Format("02.01. 15:04")
}

// callerNumber is the number of the call's caller as presented, from any
// goroutine; withheld also while a callback has no citizen's leg yet.
func (c *call) callerNumber() (string, bool) {
	c.mu.Lock()
	leg := c.leg
	c.mu.Unlock()
	if leg == nil {
		return "", true
	}
	return leg.Caller()
}
