package isolate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DrainOptions configure Drain.
type DrainOptions struct {
	// Query returns one number, the jobs still pending. Default
	// DefaultDrainQuery.
	Query string `json:"query,omitempty"`
	// Interval between polls (default 5s).
	Interval time.Duration `json:"interval,omitempty"`
	// Timeout gives up after this long (default 30m).
	Timeout time.Duration `json:"timeout,omitempty"`

	Progress Progress `json:"-"`
}

// Validate checks the options.
func (o DrainOptions) Validate() error {
	if o.Interval < 0 || o.Timeout < 0 {
		return errors.New("isolate: drain: interval and timeout must not be negative")
	}
	if o.Query != "" {
		if err := checkCondition(o.Query); err != nil {
			return fmt.Errorf("isolate: drain: query: %v", err)
		}
	}
	return nil
}

// ErrTimeout means background jobs were still pending at the timeout.
var ErrTimeout = errors.New("isolate: drain: timed out")

// DrainResult says how the wait ended.
type DrainResult struct {
	Remaining int64         `json:"remaining"`
	Polls     int           `json:"polls"`
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// Drain polls Query every Interval until it returns 0, reporting the count
// (Event{Step: "drain"}). At Timeout it returns an error wrapping ErrTimeout
// that says how many jobs remain.
func Drain(ctx context.Context, db *sql.DB, o DrainOptions) (*DrainResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	q := o.Query
	if q == "" {
		q = DefaultDrainQuery
	}
	interval, timeout := o.Interval, o.Timeout
	if interval == 0 {
		interval = 5 * time.Second
	}
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	res := &DrainResult{}
	for {
		var n sql.NullInt64
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			if ctx.Err() != nil {
				return res, fmt.Errorf("isolate: drain: %w", ctx.Err())
			}
			return res, fmt.Errorf("isolate: drain: counting pending jobs with %q: %w", q, err)
		}
		res.Polls++
		res.Remaining = n.Int64
		res.Elapsed = time.Since(start)
		report(o.Progress, Event{Step: "drain", State: "pending", Count: n.Int64})
		if n.Int64 == 0 {
			return res, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, fmt.Errorf("isolate: drain: %w (%d jobs still pending)", ctx.Err(), res.Remaining)
		case <-deadline.C:
			t.Stop()
			res.Elapsed = time.Since(start)
			return res, fmt.Errorf("%w after %s: %d background jobs still pending", ErrTimeout, timeout, res.Remaining)
		case <-t.C:
		}
	}
}
