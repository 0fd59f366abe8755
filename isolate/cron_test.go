package isolate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDisableCronLines(t *testing.T) {
	pats := []string{"jobs.php", "queue.php"}
	tests := []struct {
		name  string
		in    string
		lines []string // disabled
	}{
		{"plain", "* * * * * php -q /var/www/la/scripts/jobs.php\n", []string{"* * * * * php -q /var/www/la/scripts/jobs.php"}},
		{"crlf", "MAILTO=root\r\n* * * * * php -q /la/scripts/jobs.php\r\n*/5 * * * * php /la/scripts/queue.php > /dev/null 2>&1\r\n",
			[]string{"* * * * * php -q /la/scripts/jobs.php", "*/5 * * * * php /la/scripts/queue.php > /dev/null 2>&1"}},
		{"odd whitespace", "  \t*/1  *\t* * *   root  docker exec -i apache-fpm /usr/bin/php -q /var/www/liveagent/scripts/jobs.php   \n",
			[]string{"  \t*/1  *\t* * *   root  docker exec -i apache-fpm /usr/bin/php -q /var/www/liveagent/scripts/jobs.php   "}},
		{"no final newline", "0 3 * * * backup\n* * * * * cd /la/scripts && php jobs.php", []string{"* * * * * cd /la/scripts && php jobs.php"}},
		{"comments and lookalikes untouched", "# * * * * * php jobs.php\n  #* * * * * php jobs.php\n* * * * * php cronjobs.php\n* * * * * php jobs.php5\n* * * * * php myjobs.phpx\nJOBS=/la/jobs.php\n\n", nil},
		{"already disabled", CronMarker + "* * * * * php jobs.php\n", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, lines := DisableCronLines([]byte(tt.in), pats)
			if !reflect.DeepEqual(lines, tt.lines) {
				t.Fatalf("DisableCronLines(%q) lines = %q; want %q", tt.in, lines, tt.lines)
			}
			for _, l := range tt.lines {
				if !bytes.Contains(out, []byte(CronMarker+l)) {
					t.Errorf("DisableCronLines(%q) = %q; want %q commented out", tt.in, out, l)
				}
			}
			if len(tt.lines) == 0 && string(out) != tt.in {
				t.Errorf("DisableCronLines(%q) = %q; want unchanged", tt.in, out)
			}
			if strings.Count(string(out), "\r\n") != strings.Count(tt.in, "\r\n") {
				t.Errorf("DisableCronLines(%q) changed line ends: %q", tt.in, out)
			}
			back, n := EnableCronLines(out, lines)
			if string(back) != tt.in || n != len(lines) {
				t.Errorf("EnableCronLines(DisableCronLines(%q)) = %q, %d; want the input back, %d", tt.in, back, n, len(lines))
			}
		})
	}
}

func TestEnableCronLinesKeepsOtherChanges(t *testing.T) {
	orig := "* * * * * php /la/jobs.php\n* * * * * php /la/queue.php\n"
	dis, lines := DisableCronLines([]byte(orig), []string{"jobs.php", "queue.php"})
	// The admin adds a line and deletes one disabled line meanwhile; a line
	// someone else commented with our marker but not recorded stays.
	edited := strings.Replace(string(dis), CronMarker+"* * * * * php /la/queue.php\n", "", 1) + "0 1 * * * other\n" + CronMarker + "foreign\n"
	out, n := EnableCronLines([]byte(edited), lines)
	want := "* * * * * php /la/jobs.php\n0 1 * * * other\n" + CronMarker + "foreign\n"
	if string(out) != want || n != 1 {
		t.Errorf("EnableCronLines(%q) = %q, %d; want %q, 1", edited, out, n, want)
	}
}

// fakeRunner simulates crontab, systemctl and service.
type fakeRunner struct {
	crontab   *string // nil = no crontab
	units     string
	running   map[string]bool // service name -> running (SysV)
	calls     []string
	failStart bool
	failWrite bool // crontab - fails (reading works)
}

func (f *fakeRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	call := strings.Join(append([]string{name}, args...), " ")
	f.calls = append(f.calls, call)
	fail := func(msg string) error {
		return &CommandError{Command: append([]string{name}, args...), Stderr: msg, Err: errors.New("exit status 1")}
	}
	switch {
	case name == "crontab" && len(args) == 1 && args[0] == "-l":
		if f.crontab == nil {
			return nil, fail("no crontab for tester")
		}
		return []byte(*f.crontab), nil
	case name == "crontab" && len(args) == 1 && args[0] == "-":
		if f.failWrite {
			return nil, fail("crontab: installing new crontab: permission denied")
		}
		s := string(stdin)
		f.crontab = &s
		return nil, nil
	case name == "systemctl" && len(args) > 0 && args[0] == "list-units":
		return []byte(f.units), nil
	case name == "systemctl":
		if f.failStart && args[0] == "start" {
			return nil, fail("start failed")
		}
		return nil, nil
	case name == "service" && len(args) == 2 && args[1] == "status":
		if f.running[args[0]] {
			return []byte("running"), nil
		}
		return nil, fail("not running")
	case name == "service":
		return nil, nil
	}
	return nil, fail("unexpected command " + call)
}

func TestIsolateInstallDirCronWebServer(t *testing.T) {
	db := newSchemaDB(t)
	dir := t.TempDir()
	install := filepath.Join(dir, "la")
	pipe := filepath.Join(install, "accounts", "mail_pipe.php")
	require.NoError(t, os.MkdirAll(filepath.Dir(pipe), 0o755), "making the folder of the mail pipe")
	pipeContent := "<?php // pipe\n"
	os.WriteFile(pipe, []byte(pipeContent), 0o755)

	etc := filepath.Join(dir, "etc")
	os.MkdirAll(filepath.Join(etc, "cron.d"), 0o755)
	sysCrontab := "SHELL=/bin/sh\r\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\r\n*/1 * * * * root docker exec -i apache-fpm /usr/bin/php -q /var/www/liveagent/scripts/jobs.php\r\n"
	cronD := "# liveagent\n  *  *  * * *\twww-data   php -q /srv/la/scripts/queue.php   \n"
	untouched := "0 0 * * * root /usr/bin/true\n"
	os.WriteFile(filepath.Join(etc, "crontab"), []byte(sysCrontab), 0o644)
	os.WriteFile(filepath.Join(etc, "cron.d", "liveagent"), []byte(cronD), 0o640)
	os.WriteFile(filepath.Join(etc, "cron.d", "other"), []byte(untouched), 0o644)
	userCrontab := "# m h dom mon dow command\n* * * * * php -q " + install + "/scripts/jobs.php\n"

	sysd := filepath.Join(dir, "systemd")
	os.MkdirAll(sysd, 0o755)
	fr := &fakeRunner{crontab: &userCrontab, units: "apache2.service loaded active running The Apache HTTP Server\n" +
		"ssh.service loaded active running OpenBSD Secure Shell server\nphp8.2-fpm.service loaded active running PHP FastCGI\n"}
	opts := Options{
		InstallDir: install,
		Cron:       &CronOptions{User: true, Files: []string{filepath.Join(etc, "crontab"), filepath.Join(etc, "cron.d", "*")}},
		WebServer:  &WebServerOptions{SystemdDir: sysd},
		Runner:     fr,
	}
	state := filepath.Join(dir, "state.json")
	ctx := context.Background()

	dry, err := Isolate(ctx, db.DB, DefaultProfile(), state, Options{DryRun: true, InstallDir: opts.InstallDir, Cron: opts.Cron, WebServer: opts.WebServer, Runner: fr})
	require.NoError(t, err, "isolate, dry run")
	if len(dry.Files) != 1 || len(dry.Cron) != 3 || len(dry.Services) != 2 {
		t.Errorf("dry run plan = files %v cron %v services %v; want 1, 3, 2", dry.Files, dry.Cron, dry.Services)
	}
	if _, err := os.Stat(pipe); err != nil {
		t.Fatalf("dry run moved the mail pipe: %v", err)
	}

	res, err := Isolate(ctx, db.DB, DefaultProfile(), state, opts)
	if err != nil {
		t.Fatalf("Isolate = %v", err)
	}
	if _, err := os.Stat(pipe + AsideSuffix); err != nil || len(res.Files) != 1 {
		t.Errorf("mail pipe not moved aside: %v, %+v", err, res.Files)
	}
	if _, err := os.Stat(pipe); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mail pipe still in place: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(etc, "crontab"))
	wantSys := strings.Replace(sysCrontab, "*/1 * * * * root docker", CronMarker+"*/1 * * * * root docker", 1)
	if string(got) != wantSys {
		t.Errorf("/etc/crontab = %q; want %q", got, wantSys)
	}
	got, _ = os.ReadFile(filepath.Join(etc, "cron.d", "liveagent"))
	if !strings.Contains(string(got), CronMarker+"  *  *") {
		t.Errorf("cron.d/liveagent = %q; want the queue line disabled", got)
	}
	if fi, _ := os.Stat(filepath.Join(etc, "cron.d", "liveagent")); fi.Mode().Perm() != 0o640 {
		t.Errorf("cron.d/liveagent mode = %v; want 0640 kept", fi.Mode().Perm())
	}
	if !strings.Contains(*fr.crontab, CronMarker+"* * * * * php -q") {
		t.Errorf("user crontab = %q; want jobs.php disabled", *fr.crontab)
	}
	if len(res.Cron) != 3 {
		t.Errorf("Isolate cron = %+v; want 3 crontabs changed (user, crontab, cron.d/liveagent)", res.Cron)
	}
	stops := []string{}
	for _, c := range fr.calls {
		if strings.HasPrefix(c, "systemctl stop") {
			stops = append(stops, c)
		}
	}
	if !reflect.DeepEqual(stops, []string{"systemctl stop apache2.service", "systemctl stop php8.2-fpm.service"}) {
		t.Errorf("stop commands = %q; want apache2 and php8.2-fpm", stops)
	}

	// Running again changes nothing more.
	fr.calls = nil
	fr.units = "ssh.service loaded active running x\n"
	if _, err := Isolate(ctx, db.DB, DefaultProfile(), state, opts); err != nil {
		t.Fatalf("Isolate again = %v", err)
	}
	for _, c := range fr.calls {
		if strings.HasPrefix(c, "systemctl stop") || c == "crontab -" {
			t.Errorf("second Isolate ran %q; want nothing changed", c)
		}
	}

	fr.calls = nil
	rr, err := Restore(ctx, db.DB, state, Options{Runner: fr})
	if err != nil {
		t.Fatalf("Restore = %v", err)
	}
	if rr.Conflicts() != 0 {
		t.Errorf("Restore conflicts = %d (%+v); want 0", rr.Conflicts(), rr)
	}
	for path, want := range map[string]string{filepath.Join(etc, "crontab"): sysCrontab, filepath.Join(etc, "cron.d", "liveagent"): cronD,
		filepath.Join(etc, "cron.d", "other"): untouched, pipe: pipeContent} {
		if got, err := os.ReadFile(path); string(got) != want {
			t.Errorf("after Restore %s = %q, %v; want %q byte for byte", path, got, err, want)
		}
	}
	if *fr.crontab != userCrontab {
		t.Errorf("user crontab after Restore = %q; want %q", *fr.crontab, userCrontab)
	}
	starts := []string{}
	for _, c := range fr.calls {
		if strings.HasPrefix(c, "systemctl start") {
			starts = append(starts, c)
		}
	}
	if !reflect.DeepEqual(starts, []string{"systemctl start php8.2-fpm.service", "systemctl start apache2.service"}) {
		t.Errorf("start commands = %q; want php8.2-fpm then apache2", starts)
	}
}

func TestRestoreCronEditedSince(t *testing.T) {
	db := newSchemaDB(t)
	dir := t.TempDir()
	ct := filepath.Join(dir, "crontab")
	orig := "* * * * * root php /la/scripts/jobs.php\n"
	os.WriteFile(ct, []byte(orig), 0o644)
	state := filepath.Join(dir, "state.json")
	opts := Options{Cron: &CronOptions{Files: []string{ct}}, Runner: &fakeRunner{}}
	_, err := Isolate(context.Background(), db.DB, DefaultProfile(), state, opts)
	require.NoError(t, err, "isolate")
	cur, _ := os.ReadFile(ct)
	os.WriteFile(ct, append(cur, "5 5 * * * root added-later\n"...), 0o644)
	rr, err := Restore(context.Background(), db.DB, state, opts)
	require.NoError(t, err, "restore after a line was added to the crontab")
	got, _ := os.ReadFile(ct)
	if string(got) != orig+"5 5 * * * root added-later\n" || rr.Cron[0].Status != "restored" {
		t.Errorf("Restore of an edited crontab = %q (%+v); want the line re-enabled and the addition kept", got, rr.Cron)
	}
}

func TestWebServerSysV(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"apache2", "nginx", "ssh", "php7.4-fpm"} {
		os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755)
	}
	fr := &fakeRunner{running: map[string]bool{"apache2": true, "php7.4-fpm": true}}
	w := WebServerOptions{SystemdDir: filepath.Join(dir, "no-systemd"), InitDir: dir}
	cmds, err := w.commands(context.Background(), fr)
	require.NoError(t, err, "the web server's stop and start commands")
	want := []ServiceCommand{
		{Name: "apache2", Stop: []string{"service", "apache2", "stop"}, Start: []string{"service", "apache2", "start"}},
		{Name: "php7.4-fpm", Stop: []string{"service", "php7.4-fpm", "stop"}, Start: []string{"service", "php7.4-fpm", "start"}},
	}
	if !reflect.DeepEqual(cmds, want) {
		t.Errorf("commands() = %+v; want %+v", cmds, want)
	}
	explicit := WebServerOptions{Services: []ServiceCommand{{Name: "x", Stop: []string{"a"}}}}
	if _, err := explicit.commands(context.Background(), fr); err == nil {
		t.Errorf("commands() with no start command = nil error; want one")
	}
}

func TestIsolateStopFailureRestores(t *testing.T) {
	db := newSchemaDB(t)
	before := db.Digests(t)
	dir := t.TempDir()
	fr := &fakeRunner{}
	opts := Options{WebServer: &WebServerOptions{Services: []ServiceCommand{{Name: "web", Stop: []string{"false-stop"}, Start: []string{"service", "web", "start"}}}}, Runner: fr}
	_, err := Isolate(context.Background(), db.DB, DefaultProfile(), filepath.Join(dir, "s.json"), opts)
	if err == nil || !strings.Contains(err.Error(), "stopping web") || !strings.Contains(err.Error(), "switched back on what this run changed") {
		t.Fatalf("Isolate with a failing stop = %v; want stopping web ... restored", err)
	}
	sameDigests(t, "after failed isolate", db.Digests(t), before)
	if fr.calls[len(fr.calls)-1] != "service web start" {
		t.Errorf("last command = %q; want the web server started again", fr.calls[len(fr.calls)-1])
	}
}
