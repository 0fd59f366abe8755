package main

import (
	"context"
	"fmt"
	"io"

	"github.com/qualityunit/lamigrate/isolate"
)

type restoreCmd struct {
	connFlags
	State    string `name:"state" required:"" help:"State file written by isolate." placeholder:"FILE"`
	RowsOnly bool   `name:"rows-only" help:"Restore the database rows only, not the cron lines, files and services the state file records (the cloud side; done by itself on another machine than the one isolate ran on)."`
}

func (c *restoreCmd) Run(ctx context.Context, e *env) error {
	db, _, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := isolate.Restore(ctx, db, c.State, isolate.Options{Progress: progressTo(e), RowsOnly: c.RowsOnly})
	if err != nil {
		return trimIsolateOrigin(err, "isolate: restore: ", "isolate: ")
	}
	if err := e.ui.result(res, func(w io.Writer) { printRestore(w, res) }); err != nil {
		return err
	}
	if n := res.Conflicts(); n > 0 {
		return fmt.Errorf("%d conflicts left alone: changed since isolate (listed above); check them by hand", n)
	}
	return nil
}

func printRestore(w io.Writer, r *isolate.RestoreResult) {
	fmt.Fprintln(w, "Restored:")
	for _, s := range r.Services {
		fmt.Fprintf(w, "  service %s: %s %s\n", s.Name, s.Status, s.Reason)
	}
	for _, c := range r.Cron {
		fmt.Fprintf(w, "  cron    %s: %s, %d lines %s\n", c.Path, c.Status, c.Lines, c.Reason)
	}
	for _, f := range r.Files {
		fmt.Fprintf(w, "  file    %s: %s %s\n", f.Path, f.Status, f.Reason)
	}
	if r.LeftAlone != "" {
		fmt.Fprintf(w, "  not restored: %s\n", r.LeftAlone)
	}
	for _, s := range r.Sources {
		if s.Skipped != "" {
			fmt.Fprintf(w, "  %-18s skipped: %s\n", s.Name, s.Skipped)
			continue
		}
		fmt.Fprintf(w, "  %-18s %d restored, %d already, %d conflicts, %d missing\n", s.Name, s.Restored, s.Already, len(s.Conflicts), len(s.Missing))
		for _, c := range s.Conflicts {
			fmt.Fprintf(w, "  %-18s conflict: %s.%s is %s (isolate wrote %s; original %s): left alone\n", "", s.Table, c.Key, c.Current, c.Written, c.Original)
		}
		for _, k := range s.Missing {
			fmt.Fprintf(w, "  %-18s missing: row %s no longer exists\n", "", k)
		}
	}
}
