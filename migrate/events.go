package migrate

// Progress receives what a run does. Implementations must be safe for use
// by the goroutine that calls Run (events arrive one at a time).
type Progress interface {
	Event(Event)
}

// ProgressFunc adapts a function to Progress.
type ProgressFunc func(Event)

// Event implements Progress.
func (f ProgressFunc) Event(e Event) { f(e) }

// EventKind says what an Event reports.
type EventKind string

// Kinds of events.
const (
	EventRunStart     EventKind = "run-start" // Message is the journal's path
	EventStepStart    EventKind = "step-start"
	EventStepProgress EventKind = "step-progress"
	EventStepEnd      EventKind = "step-end" // Record holds the outcome
	EventUndoStart    EventKind = "undo-start"
	EventUndoEnd      EventKind = "undo-end"
	EventInfo         EventKind = "info"
	EventWarning      EventKind = "warning"
)

// Event is one thing a run reports.
type Event struct {
	Kind EventKind
	Step string
	// Index (from 1) and Count place the step in the plan.
	Index, Count int
	// Done and Total measure a step's progress (Total 0: unknown); Bytes
	// says they count bytes.
	Done, Total int64
	Bytes       bool
	Message     string
	// Record is the step's journal record after EventStepEnd/EventUndoEnd.
	Record *StepRecord
}
