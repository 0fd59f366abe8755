package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/qualityunit/lamigrate/internal/shquote"
	"github.com/qualityunit/lamigrate/isolate"
)

type drainCmd struct {
	connFlags
	Timeout  time.Duration `name:"timeout" default:"30m" help:"Give up after this long."`
	Interval time.Duration `name:"interval" default:"5s" help:"Poll this often."`
	Query    string        `name:"query" help:"SQL returning the number of pending jobs (default: the profile's, else SELECT COUNT(*) FROM qu_g_queued_jobs WHERE status != 'F')." placeholder:"SQL"`
	Profile  string        `name:"profile" help:"Profile whose drain_query to use." placeholder:"FILE"`
}

func (c *drainCmd) Run(ctx context.Context, e *env) error {
	if c.Timeout <= 0 || c.Interval <= 0 {
		return usageErr("--timeout and --interval must be positive")
	}
	q := c.Query
	if q == "" && c.Profile != "" {
		p, err := isolate.LoadProfile(c.Profile)
		if err != nil {
			return withStatus(exitUsage, err)
		}
		q = p.Drain()
	}
	o := isolate.DrainOptions{Query: q, Interval: c.Interval, Timeout: c.Timeout}
	if err := o.Validate(); err != nil {
		return withStatus(exitUsage, err)
	}
	db, _, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close()
	last := int64(-1)
	o.Progress = isolate.ProgressFunc(func(ev isolate.Event) {
		if ev.Count != last { // say it when it changes, not every poll
			e.ui.info("drain: %d background jobs pending", ev.Count)
			last = ev.Count
		}
	})
	res, err := isolate.Drain(ctx, db, o)
	if errors.Is(err, isolate.ErrTimeout) {
		again := "lamigrate drain" + c.hintConn() + " --timeout " + (2 * c.Timeout).String()
		if c.Query != "" {
			again += " --query " + shquote.Quote(c.Query)
		} else if c.Profile != "" {
			again += " --profile " + shquote.Quote(c.Profile)
		}
		return &isoTrimmed{err: err, msg: fmt.Sprintf("timed out after %s with %d background jobs still pending; they run from the jobs.php cron line: "+
			"check that it is still active (crontab -l, or crontab -u USER -l for the user it runs as, /etc/crontab, /etc/cron.d), then wait longer with %s", c.Timeout, res.Remaining, again)}
	}
	if err != nil {
		return trimIsolateOrigin(err, "isolate: drain: ", "isolate: ")
	}
	return e.ui.result(res, func(w io.Writer) {
		fmt.Fprintf(w, "No background jobs pending (%d polls, %s).\n", res.Polls, res.Elapsed.Round(time.Millisecond))
	})
}
