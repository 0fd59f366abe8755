package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/qualityunit/lamigrate/isolate"
)

type isolateCmd struct {
	connFlags
	State   string `name:"state" required:"" help:"State file recording every original value (JSON, mode 0600)." placeholder:"FILE"`
	Profile string `name:"profile" help:"Profile of external sources (JSON) instead of the built-in LiveAgent one." placeholder:"FILE"`
	DryRun  bool   `name:"dry-run" help:"Print the plan, change nothing."`
	Keep    bool   `name:"keep" help:"On Ctrl-C or failure keep what is isolated (default: restore everything the state file holds, earlier runs included)."`

	Cron           bool     `name:"cron" help:"Also comment out the jobs.php/queue.php cron lines (user crontab and system crontabs). Background jobs stop too: run drain first, then isolate --cron with the same state file."`
	CrontabCommand string   `name:"crontab-command" default:"crontab" help:"Program (and leading arguments) that reads (-l) and writes (-) the user crontab, e.g. 'crontab -u www-data'." placeholder:"CMD"`
	CronFiles      []string `name:"cron-file" help:"System crontab files or globs to edit with --cron (default /etc/crontab and /etc/cron.d/*)." placeholder:"GLOB"`
	StopWebServer  bool     `name:"stop-web-server" help:"Also stop the web server (apache2, httpd, nginx, lighttpd, php-fpm found running via systemctl, else service)."`
	WebStop        string   `name:"web-stop" help:"Shell command that stops the web server (implies --stop-web-server; needs --web-start)." placeholder:"CMD"`
	WebStart       string   `name:"web-start" help:"Shell command that starts the web server again (run by restore)." placeholder:"CMD"`
}

func (c *isolateCmd) Run(e *env) error {
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
	o := isolate.Options{DryRun: c.DryRun, Keep: c.Keep, InstallDir: c.InstallDir, Progress: progressTo(e)}
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
	db, _, err := c.open(e)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := isolate.Isolate(e.ctx, db, p, c.State, o)
	if err != nil {
		if res != nil && res.RolledBack != nil {
			e.ui.result(res, func(w io.Writer) { printRestore(w, res.RolledBack) })
		}
		return err
	}
	return e.ui.result(res, func(w io.Writer) { printIsolate(w, res, c.State) })
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
			e.ui.info("isolate: %s: %d active rows", ev.Name, ev.Count)
		case ev.Step == "source" && ev.Message != "":
			e.ui.info("%s: %s: %s", ev.Name, ev.State, ev.Message)
		case ev.Step == "source":
			e.ui.info("%s: %s (%d rows)", ev.Name, ev.State, ev.Count)
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
	for _, s := range r.Sources {
		target := fmt.Sprintf("%s.%s := %q", s.Table, s.Column, s.Write)
		var what string
		switch s.Status {
		case "would isolate":
			what = fmt.Sprintf("%d active rows", s.Active)
		case "isolated":
			what = fmt.Sprintf("%d rows changed, %d recorded", s.Changed, s.Recorded)
		case "already isolated":
			what = fmt.Sprintf("%d rows recorded earlier", s.Recorded)
		case "skipped":
			what = s.Reason
		}
		conf := ""
		if s.Confidence != "" && s.Confidence != isolate.Confirmed {
			conf = " [" + s.Confidence + "]"
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
		fmt.Fprintf(w, "  cron    %s: %d lines (%s)\n", c.Path, len(c.Lines), c.Status)
	}
	for _, s := range r.Services {
		fmt.Fprintf(w, "  service %s: %s (%s)\n", s.Name, s.Status, strings.Join(s.Stop, " "))
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "%d warnings:\n", len(r.Warnings))
		for _, m := range r.Warnings {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
}
