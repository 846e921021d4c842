package cdr

// Class is what a disposition counts as in service levels, metrics,
// invoices and aggregates: the one place that says so, so they agree.
type Class int

// Classes of dispositions.
const (
	ClassOther          Class = iota // failed, interrupted: the system lost the call before anyone answered
	ClassAnswered                    // an agent answered
	ClassAbandoned                   // the caller hung up while waiting
	ClassAbandonedShort              // … within the short-abandon threshold (left out of the service level)
	ClassOverflowed                  // another 115 center answered
	ClassRejected                    // refused: unknown number, closed, busy (draining, overloaded, no capacity)
	ClassSelfService                 // served by the menu's information; never offered to an agent
)

// Class says what the disposition counts as.
func (d Disposition) Class() Class {
	switch d {
	case Answered:
		return ClassAnswered
	case Abandoned:
		return ClassAbandoned
	case AbandonedShort:
		return ClassAbandonedShort
	case Overflowed:
		return ClassOverflowed
	case RejectedClosed, RejectedUnknown, RejectedBusy:
		return ClassRejected
	case SelfService:
		return ClassSelfService
	}
	return ClassOther
}

// Billable reports whether a call with this disposition is charged: every
// call an agent answered, however it ended (the caller, the agent, a
// shutdown or the loss of its instance: see HangupInstanceLost), and calls
// another center answered when the tariff bills overflow.
func (d Disposition) Billable(billOverflowed bool) bool {
	return d == Answered || (d == Overflowed && billOverflowed)
}

// HangupInstanceLost is the hangup_by of a CDR written by another
// instance's reaper for a call whose instance died: the owner's own row,
// if it wrote one after all, wins over it.
const HangupInstanceLost = "instance-lost"
