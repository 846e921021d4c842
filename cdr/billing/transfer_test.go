package billing

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
)

// TestInvoiceWithTransferredCalls: a month of Burgdorf with transferred
// calls, as sc115 writes them (issue 14). Each call is one row; billed are
// its agents' talk and wrap-up (the sums of agent_segments), never the
// time the caller then spent with the municipal office or another center
// (transfer_ms). Recomputed by hand at 1.50 €/min, 60/60:
//
//	t1  blind to the Bürgerbüro: agent 1003 talks 50 s + 30 s wrap-up;
//	    the office 600 s (not billed)             →  80 s → 120 s
//	t2  to agent 1001: 1003 40 s + 30 s, 1001 90 s + 30 s
//	    = talk 130 s + wrap-up 60 s               → 190 s → 240 s
//	t3  to a queue, taken by 1006: 1003 20 s + 0.5 s, 1006 25 s + 10 s
//	    = 55.5 s                                  →  56 s →  60 s
//	t4  to the federation after 30 s + 30 s; the other center 300 s
//	                                              →  60 s →  60 s
//	t5  attended to the Bürgerbüro: 1003 talks 95 s (with the
//	    consultation) + 25 s; the office 240 s   → 120 s → 120 s
//
// 600 s = 10 min × 1.50 € = 15.00 €, five calls billed, five answered.
func TestInvoiceWithTransferredCalls(t *testing.T) {
	dir := t.TempDir()
	w, err := cdr.NewWriter(dir, "i1", nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	at := func(d int) time.Time { return time.Date(2026, 10, d, 10, 0, 0, 0, berlin) }
	for _, r := range []cdr.Record{
		{CallID: "t1", Municipality: "burgdorf", ArrivedAt: at(1), AnsweredAt: at(1), TalkMS: 50000, WrapupMS: 30000, Agent: "1003", Disposition: cdr.Answered,
			TransferKind: "blind", TransferTarget: "+4951361890", TransferredBy: "1003", TransferMS: 600000},
		{CallID: "t2", Municipality: "burgdorf", ArrivedAt: at(2), AnsweredAt: at(2), TalkMS: 130000, WrapupMS: 60000, Agent: "1003", Disposition: cdr.Answered,
			TransferKind: "blind", TransferTarget: "agent:1001", TransferredBy: "1003", Segments: "1003:40000:30000;1001:90000:30000"},
		{CallID: "t3", Municipality: "burgdorf", ArrivedAt: at(3), AnsweredAt: at(3), TalkMS: 45000, WrapupMS: 10500, Agent: "1003", Disposition: cdr.Answered,
			TransferKind: "queue", TransferTarget: "queue:burgdorf", TransferredBy: "1003", Segments: "1003:20000:500;1006:25000:10000"},
		{CallID: "t4", Municipality: "burgdorf", ArrivedAt: at(4), AnsweredAt: at(4), TalkMS: 30000, WrapupMS: 30000, Agent: "1003", Disposition: cdr.Answered,
			TransferKind: "federation", TransferTarget: "federation:sc-nachbar", TransferredBy: "1003", TransferMS: 300000},
		// Attended: the agent's talk includes the consultation with the office.
		{CallID: "t5", Municipality: "burgdorf", ArrivedAt: at(5), AnsweredAt: at(5), TalkMS: 95000, WrapupMS: 25000, Agent: "1003", Disposition: cdr.Answered,
			TransferKind: "attended", TransferTarget: "+4951361890", TransferredBy: "1003", TransferMS: 240000},
	} {
		w.Now = func() time.Time { return r.ArrivedAt }
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	in := bill(t, dir, Tariff{Model: "per_minute", PerMinuteCents: 150, Increment: "60/60"})
	if in.CallsBilled != 5 || in.Stats.Answered != 5 || in.Stats.Offered != 5 {
		t.Errorf("billed %d calls, stats %+v; want 5 calls, 5 answered", in.CallsBilled, in.Stats)
	}
	if in.BillableS != 600 || in.TotalCents != 1500 {
		t.Errorf("billable %d s, total %d ct; want 600 s, 1500 ct", in.BillableS, in.TotalCents)
	}
	if in.TalkS != 350 || in.WrapupS != 156 { // 50+130+45+30+95 s; 30+60+10.5+30+25 s rounded
		t.Errorf("talk %d s, wrap-up %d s; want 350, 156", in.TalkS, in.WrapupS)
	}
}
