package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/qualityunit/lamigrate/internal/shquote"
	"github.com/qualityunit/lamigrate/isolate"
)

type isolateCmd struct {
	connFlags
	State   string `name:"state" required:"" help:"State file recording every original value (JSON, mode 0600)." placeholder:"FILE"`
	Profile string `name:"profile" help:"Profile of external sources (JSON) instead of the built-in LiveAgent one." placeholder:"FILE"`
	DryRun  bool   `name:"dry-run" help:"Print the plan, change nothing."`
	Keep    bool   `name:"keep" help:"On Ctrl-C or failure keep what this command isolated (default: switch back on what this command changed; what earlier isolate commands isolated always stays)."`

	Cron           bool     `name:"cron" help:"Also comment out the jobs.php/queue.php cron lines (user crontab and system crontabs). Background jobs stop too: isolate without --cron, run drain, then isolate --cron with the same state file (refused while jobs are pending)."`
	CrontabCommand string   `name:"crontab-command" default:"crontab" help:"Program (and leading arguments) that reads (-l) and writes (-) the user crontab, e.g. 'crontab -u www-data'." placeholder:"CMD"`
	CronFiles      []string `name:"cron-file" help:"System crontab files or globs to edit with --cron (default /etc/crontab and /etc/cron.d/*)." placeholder:"GLOB"`
	StopWebServer  bool     `name:"stop-web-server" help:"Also stop the web server (apache2, httpd, nginx, lighttpd, php-fpm found running via systemctl, else service)."`
	WebStop        string   `name:"web-stop" help:"Shell command that stops the web server (implies --stop-web-server; needs --web-start)." placeholder:"CMD"`
	WebStart       string   `name:"web-start" help:"Shell command that starts the web server again (run by restore)." placeholder:"CMD"`

	IgnorePendingJobs bool `name:"ignore-pending-jobs" help:"Switch cron off with --cron even while background jobs are pending (they then never run)."`
	AlreadyIsolatedOK bool `name:"already-isolated-ok" help:"Isolate into a new state file even though the installation already looks isolated (another state file not restored yet, or cron lines lamigrate commented out)."`
}

func (c *isolateCmd) Run(ctx context.Context, e *env) error {
	if (c.WebStop == "") != (c.WebStart == "") {
		return usageErr("--web-stop and --web-start go together")
	}
	if strings.TrimSpace(c.CrontabCommand) == "" {
		return usageErr("--crontab-command is empty")
	}
	p := isolate.DefaultProfile()
	if c.Profile != "" {
		var err error
		if p, err = isolate.LoadProfile(c.Profile); err != nil {
			return withStatus(exitUsage, err)
		}
	}
	o := isolate.Options{DryRun: c.DryRun, Keep: c.Keep, InstallDir: c.InstallDir, Progress: progressTo(e),
		IgnorePendingJobs: c.IgnorePendingJobs, AlreadyIsolatedOK: c.AlreadyIsolatedOK}
	if c.Cron {
		o.Cron = &isolate.CronOptions{User: true, Command: strings.Fields(c.CrontabCommand), Files: c.CronFiles}
	}
	if c.StopWebServer || c.WebStop != "" {
		o.WebServer = &isolate.WebServerOptions{}
		if c.WebStop != "" {
			o.WebServer.Services = []isolate.ServiceCommand{{Name: "web server",
				Stop: []string{"sh", "-c", c.WebStop}, Start: []string{"sh", "-c", c.WebStart}}}
		}
	}
	db, _, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := isolate.Isolate(ctx, db, p, c.State, o)
	if err != nil {
		if res != nil && res.RolledBack != nil && (res.RolledBack.SwitchedOn() != "nothing" || res.RolledBack.Conflicts() > 0) {
			e.ui.result(res, func(w io.Writer) { printRestore(w, res.RolledBack) })
		}
		return c.explain(err)
	}
	return e.ui.result(res, func(w io.Writer) { printIsolate(w, res, c.State) })
}

// command is "lamigrate isolate" with the connection, the state file and
// the flags given, except the cron ones; cronArgs are those.
func (c *isolateCmd) command(state string) (base, cronArgs string) {
	base = "lamigrate isolate" + c.hintConn() + " --state " + shquote.Quote(state)
	if c.Profile != "" {
		base += " --profile " + shquote.Quote(c.Profile)
	}
	if c.WebStop != "" {
		base += " --web-stop " + shquote.Quote(c.WebStop) + " --web-start " + shquote.Quote(c.WebStart)
	} else if c.StopWebServer {
		base += " --stop-web-server"
	}
	cronArgs = " --cron"
	if c.CrontabCommand != "crontab" {
		cronArgs += " --crontab-command " + shquote.Quote(c.CrontabCommand)
	}
	for _, f := range c.CronFiles {
		cronArgs += " --cron-file " + shquote.Quote(f)
	}
	return base, cronArgs
}

// explain turns the library's refusals into lines with commands to paste.
func (c *isolateCmd) explain(err error) error {
	var jp *isolate.JobsPendingError
	var ai *isolate.AlreadyIsolatedError
	var rb *isolate.RollbackError
	switch {
	case errors.As(err, &jp):
		base, cron := c.command(c.State)
		drain := "lamigrate drain" + c.hintConn()
		if c.Profile != "" {
			drain += " --profile " + shquote.Quote(c.Profile)
		}
		return &isoTrimmed{err: err, msg: fmt.Sprintf("%d background jobs are still pending (%s); they run from the cron line --cron would switch off, so nothing was changed: "+
			"run %s (everything but cron), then %s, then %s (or pass --ignore-pending-jobs)", jp.Count, jp.Table, base, drain, base+cron)}
	case errors.As(err, &ai):
		var why []string
		if ai.Other != "" {
			why = append(why, fmt.Sprintf("the state file %s holds the original values of an isolation not restored yet (%s)", ai.Other, ai.OtherHolds))
		}
		if len(ai.Cron) > 0 {
			why = append(why, fmt.Sprintf("%s hold cron lines lamigrate commented out", strings.Join(ai.Cron, ", ")))
		}
		what := "restore with the state file that recorded them first"
		if ai.Other != "" {
			base, cron := c.command(ai.Other)
			if c.Cron {
				base += cron
			}
			what = fmt.Sprintf("continue with %s, or restore first with lamigrate restore%s --state %s", base, c.hintConn(), shquote.Quote(ai.Other))
		}
		return &isoTrimmed{err: err, msg: fmt.Sprintf("database %s already looks isolated: %s; isolating it into the new state file %s would record the isolated values as the originals, so nothing was changed: %s (or pass --already-isolated-ok)",
			ai.Database, strings.Join(why, "; "), c.State, what)}
	case errors.As(err, &rb):
		rb.RestoreCommand = "lamigrate restore" + c.hintConn() + " --state " + shquote.Quote(c.State)
	}
	return trimIsolateOrigin(err, "isolate: ")
}

// progressTo renders library events through the UI.
func progressTo(e *env) isolate.Progress {
	return isolate.ProgressFunc(func(ev isolate.Event) {
		switch {
		case ev.Step == "warning":
			e.ui.warn("%s", ev.Message)
		case ev.Step == "drain":
			e.ui.info("drain: %d background jobs pending", ev.Count)
		case ev.Step == "source" && ev.State == "start":
			e.ui.info("isolate: %s: %s", ev.Name, plural(int(ev.Count), "active row"))
		case ev.Step == "source" && ev.Message != "":
			e.ui.info("%s: %s: %s", ev.Name, ev.State, ev.Message)
		case ev.Step == "source":
			e.ui.info("%s: %s (%s)", ev.Name, ev.State, plural(int(ev.Count), "row"))
		default:
			msg := fmt.Sprintf("%s %s: %s", ev.Step, ev.Name, ev.State)
			if ev.Message != "" {
				msg += " (" + ev.Message + ")"
			}
			e.ui.info("%s", msg)
		}
	})
}

func printIsolate(w io.Writer, r *isolate.Result, state string) {
	if r.DryRun {
		fmt.Fprintf(w, "Plan for database %s (dry run, nothing changed):\n", r.Database)
	} else {
		fmt.Fprintf(w, "Isolated database %s; original values in %s\n", r.Database, state)
	}
	tagged := false
	for _, s := range r.Sources {
		target := fmt.Sprintf("%s.%s := %q", s.Table, s.Column, s.Write)
		var what string
		switch s.Status {
		case "would isolate":
			what = plural(int(s.Active), "active row")
		case "isolated":
			what = fmt.Sprintf("%s changed, %d recorded", plural(int(s.Changed), "row"), s.Recorded)
		case "already isolated":
			what = plural(s.Recorded, "row") + " recorded earlier"
		case "skipped":
			what = s.Reason
		}
		conf := ""
		if s.Confidence != "" && s.Confidence != isolate.Confirmed {
			conf = " [" + s.Confidence + "]"
			tagged = true
		}
		fmt.Fprintf(w, "  %-18s %-16s %s: %s%s\n", s.Name, s.Status, target, what, conf)
		if r.DryRun && len(s.Keys) > 0 {
			keys := make([]string, 0, len(s.Keys))
			for i, k := range s.Keys {
				if i == 20 {
					keys = append(keys, fmt.Sprintf("... %d more", len(s.Keys)-20))
					break
				}
				keys = append(keys, k.String())
			}
			fmt.Fprintf(w, "  %-18s keys: %s\n", "", strings.Join(keys, ", "))
		}
	}
	for _, f := range r.Files {
		fmt.Fprintf(w, "  file    %s -> %s (%s)\n", f.Path, f.Aside, f.Status)
	}
	for _, c := range r.Cron {
		fmt.Fprintf(w, "  cron    %s: %s (%s)\n", c.Path, plural(len(c.Lines), "line"), c.Status)
	}
	for _, s := range r.Services {
		fmt.Fprintf(w, "  service %s: %s (%s)\n", s.Name, s.Status, strings.Join(s.Stop, " "))
	}
	if tagged {
		fmt.Fprintf(w, "[%s]/[%s]: the profile entry's table or column is not confirmed for every LiveAgent version; lamigrate check lists the tables and columns that look like sources; correct an entry with --profile FILE\n", isolate.Inferred, isolate.Guess)
	}
	if n := len(r.Warnings); n > 0 {
		fmt.Fprintf(w, "%s (printed on stderr as they happened)\n", plural(n, "warning"))
	}
}

// plural says "1 warning", "2 warnings".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
