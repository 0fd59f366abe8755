package isolate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const jobsLine = "* * * * * www-data php -q /srv/la/scripts/jobs.php\n"

// cronFile writes a system crontab with a jobs.php line.
func cronFile(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "crontab")
	require.NoError(t, os.WriteFile(p, []byte("SHELL=/bin/sh\n"+jobsLine), 0o644))
	return p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

func noLockLeft(t *testing.T, state string) {
	t.Helper()
	_, err := os.Stat(state + ".lock")
	assert.True(t, errors.Is(err, os.ErrNotExist), "%s.lock left behind: %v", state, err)
}

func TestIsolateCronRefusesPendingJobs(t *testing.T) {
	db := newSchemaDB(t)
	db.MustExec(t, "INSERT INTO qu_g_queued_jobs (status) VALUES ('P'),('R'),('F')")
	before := db.Digests(t)
	dir := t.TempDir()
	ct := cronFile(t, dir)
	state := filepath.Join(dir, "state.json")
	opts := Options{Cron: &CronOptions{Files: []string{ct}}, Runner: &fakeRunner{}}

	_, err := Isolate(context.Background(), db.DB, DefaultProfile(), state, opts)
	require.ErrorIs(t, err, ErrJobsPending)
	var jp *JobsPendingError
	require.ErrorAs(t, err, &jp)
	assert.Equal(t, int64(2), jp.Count)
	assert.Equal(t, "qu_g_queued_jobs", jp.Table)
	assert.Contains(t, err.Error(), "2 background jobs are still pending (qu_g_queued_jobs)")
	assert.NotContains(t, err.Error(), "\n")
	sameDigests(t, "after the refusal", db.Digests(t), before)
	assert.Equal(t, "SHELL=/bin/sh\n"+jobsLine, readFile(t, ct), "crontab changed by a refused isolate")
	_, err = os.Stat(state)
	assert.True(t, errors.Is(err, os.ErrNotExist), "refused isolate wrote the state file: %v", err)
	noLockLeft(t, state)

	// The article's order: without cron, drain (the jobs finish), then cron.
	_, err = Isolate(context.Background(), db.DB, DefaultProfile(), state, Options{})
	require.NoError(t, err)
	db.MustExec(t, "UPDATE qu_g_queued_jobs SET status = 'F'")
	res, err := Isolate(context.Background(), db.DB, DefaultProfile(), state, opts)
	require.NoError(t, err)
	require.Len(t, res.Cron, 1)
	assert.Equal(t, "SHELL=/bin/sh\n"+CronMarker+jobsLine, readFile(t, ct))

	// IgnorePendingJobs goes ahead.
	db2 := newSchemaDB(t)
	db2.MustExec(t, "INSERT INTO qu_g_queued_jobs (status) VALUES ('P')")
	dir2 := t.TempDir()
	ct2 := cronFile(t, dir2)
	_, err = Isolate(context.Background(), db2.DB, DefaultProfile(), filepath.Join(dir2, "s.json"),
		Options{Cron: &CronOptions{Files: []string{ct2}}, IgnorePendingJobs: true, Runner: &fakeRunner{}})
	require.NoError(t, err)
	assert.Contains(t, readFile(t, ct2), CronMarker)
}

func TestIsolateFailureKeepsEarlierRounds(t *testing.T) {
	tests := []struct {
		name string
		// second is the failing call's options.
		second      func(dir string) Options
		switchedOn  string
		afterSecond func(t *testing.T, dir string)
	}{
		{"crontab cannot be written",
			func(dir string) Options {
				tab := jobsLine
				return Options{Cron: &CronOptions{User: true, Files: []string{}}, Runner: &fakeRunner{crontab: &tab, failWrite: true}}
			},
			"(nothing)", nil},
		{"mail pipe moved, then cron fails",
			func(dir string) Options {
				tab := jobsLine
				return Options{InstallDir: filepath.Join(dir, "la"), Cron: &CronOptions{User: true, Files: []string{}}, Runner: &fakeRunner{crontab: &tab, failWrite: true}}
			},
			"(file " + "PIPE" + ")",
			func(t *testing.T, dir string) {
				_, err := os.Stat(filepath.Join(dir, "la", "accounts", "mail_pipe.php"))
				assert.NoError(t, err, "the mail pipe this call moved aside is not back")
			}},
		{"web server stop fails",
			func(dir string) Options {
				return Options{WebServer: &WebServerOptions{Services: []ServiceCommand{{Name: "web", Stop: []string{"false-stop"}, Start: []string{"service", "web", "start"}}}}, Runner: &fakeRunner{}}
			},
			"(service web)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newSchemaDB(t)
			before := db.Digests(t)
			dir := t.TempDir()
			pipe := filepath.Join(dir, "la", "accounts", "mail_pipe.php")
			require.NoError(t, os.MkdirAll(filepath.Dir(pipe), 0o755))
			require.NoError(t, os.WriteFile(pipe, []byte("<?php\n"), 0o644))
			state := filepath.Join(dir, "state.json")
			ctx := context.Background()

			_, err := Isolate(ctx, db.DB, DefaultProfile(), state, Options{})
			require.NoError(t, err)
			isolated := db.Digests(t)
			o := tt.second(dir)
			res, err := Isolate(ctx, db.DB, DefaultProfile(), state, o)
			require.Error(t, err)
			var rb *RollbackError
			require.ErrorAs(t, err, &rb)
			want := "switched back on what this run changed " + strings.ReplaceAll(tt.switchedOn, "PIPE", pipe)
			assert.Contains(t, err.Error(), want)
			assert.Contains(t, err.Error(), "still isolated from earlier runs: mail accounts (3 rows)")
			assert.Contains(t, err.Error(), "restore them with the state file "+state)
			require.NotNil(t, res.RolledBack)
			// The first round's rows stay isolated.
			sameDigests(t, "after the failed second call", db.Digests(t), isolated)
			if tt.afterSecond != nil {
				tt.afterSecond(t, dir)
			}
			noLockLeft(t, state)
			s, err := ReadState(state)
			require.NoError(t, err)
			assert.Empty(t, s.Files, "state file still records the file this call moved and moved back")
			assert.Empty(t, s.Services)

			// A later full restore still restores everything.
			rr, err := Restore(ctx, db.DB, state, Options{})
			require.NoError(t, err)
			assert.Equal(t, 0, rr.Conflicts())
			sameDigests(t, "after restore", db.Digests(t), before)
		})
	}
}

func TestIsolateAlreadyIsolated(t *testing.T) {
	db := newSchemaDB(t)
	ctx := context.Background()
	dir := t.TempDir()
	first := filepath.Join(dir, "isolate-state.json")
	_, err := Isolate(ctx, db.DB, DefaultProfile(), first, Options{})
	require.NoError(t, err)
	isolated := db.Digests(t)

	second := filepath.Join(dir, "again.json")
	_, err = Isolate(ctx, db.DB, DefaultProfile(), second, Options{})
	require.ErrorIs(t, err, ErrAlreadyIsolated)
	var ai *AlreadyIsolatedError
	require.ErrorAs(t, err, &ai)
	assert.Equal(t, first, ai.Other)
	assert.Contains(t, err.Error(), "the state file "+first+" holds the original values")
	assert.Contains(t, ai.OtherHolds, "mail accounts (3 rows)")
	_, err = os.Stat(second)
	assert.True(t, errors.Is(err, os.ErrNotExist), "refused isolate wrote %s: %v", second, err)
	noLockLeft(t, second)
	sameDigests(t, "after the refusal", db.Digests(t), isolated)

	// Resuming with the same state file works as before.
	res, err := Isolate(ctx, db.DB, DefaultProfile(), first, Options{})
	require.NoError(t, err)
	assert.Equal(t, "already isolated", res.Sources[0].Status)

	// The flag goes ahead (and records the isolated values, as asked).
	_, err = Isolate(ctx, db.DB, DefaultProfile(), second, Options{AlreadyIsolatedOK: true})
	require.NoError(t, err)
	require.NoError(t, os.Remove(second))

	// A state file of another database does not count.
	other := newSchemaDB(t)
	_, err = Isolate(ctx, other.DB, DefaultProfile(), filepath.Join(dir, "other.json"), Options{})
	require.NoError(t, err)

	// Once restored, a new state file is fine.
	_, err = Restore(ctx, db.DB, first, Options{})
	require.NoError(t, err)
	_, err = Isolate(ctx, db.DB, DefaultProfile(), second, Options{})
	require.NoError(t, err)

	// Cron lines carrying the marker are a sign too, with no state file.
	db3 := newSchemaDB(t)
	dir3 := t.TempDir()
	ct := filepath.Join(dir3, "crontab")
	require.NoError(t, os.WriteFile(ct, []byte(CronMarker+jobsLine), 0o644))
	_, err = Isolate(ctx, db3.DB, DefaultProfile(), filepath.Join(dir3, "s.json"), Options{Cron: &CronOptions{Files: []string{ct}}, Runner: &fakeRunner{}})
	require.ErrorAs(t, err, &ai)
	assert.Equal(t, []string{ct}, ai.Cron)
	assert.Contains(t, err.Error(), ct+" holds cron lines lamigrate commented out")

	// A new state file in another folder: the sources themselves show it
	// (no active row, rows at the values isolation writes).
	db4 := newSchemaDB(t)
	_, err = Isolate(ctx, db4.DB, DefaultProfile(), filepath.Join(t.TempDir(), "isolate-state.json"), Options{})
	require.NoError(t, err)
	elsewhere := filepath.Join(t.TempDir(), "other-state.json")
	_, err = Isolate(ctx, db4.DB, DefaultProfile(), elsewhere, Options{})
	require.ErrorAs(t, err, &ai)
	assert.Empty(t, ai.Other)
	assert.Contains(t, ai.Written, "mail accounts (")
	assert.Contains(t, err.Error(), "no source has an active row and mail accounts (")
	_, err = os.Stat(elsewhere)
	assert.True(t, errors.Is(err, os.ErrNotExist), "refused isolate wrote %s: %v", elsewhere, err)

	// A fresh installation with nothing active and nothing at those values
	// is not refused.
	db5 := newSchemaDB(t)
	st, err := DefaultProfile().Inspect(ctx, db5.DB)
	require.NoError(t, err)
	for i, src := range DefaultProfile().Sources {
		if st[i].TableExists {
			_, err := db5.DB.Exec("DELETE FROM `" + src.Table + "`")
			require.NoError(t, err)
		}
	}
	_, err = Isolate(ctx, db5.DB, DefaultProfile(), filepath.Join(t.TempDir(), "s.json"), Options{})
	require.NoError(t, err)
}

func TestCronOptionsJSON(t *testing.T) {
	tests := []struct {
		in       string
		user     bool
		files    []string
		wantErr  bool
		wantNote string
	}{
		{in: `{}`, user: true},
		{in: `{"user": false}`, user: false},
		{in: `{"user": true, "files": []}`, user: true, files: []string{}},
		{in: `{"command": ["crontab", "-u", "www-data"]}`, user: true},
		{in: `{"usr": true}`, wantErr: true},
	}
	for _, tt := range tests {
		var c CronOptions
		err := json.Unmarshal([]byte(tt.in), &c)
		if tt.wantErr {
			assert.Error(t, err, "Unmarshal(%s)", tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.user, c.User, "Unmarshal(%s).User", tt.in)
		assert.Equal(t, tt.files, c.Files, "Unmarshal(%s).Files", tt.in)
	}
}

func TestIsolateRefusesNoCronLine(t *testing.T) {
	db := newSchemaDB(t)
	dir := t.TempDir()
	ct := filepath.Join(dir, "crontab")
	require.NoError(t, os.WriteFile(ct, []byte("0 0 * * * root /usr/bin/true\n"), 0o644))
	empty := ""
	before := db.Digests(t)
	state := filepath.Join(dir, "s.json")
	_, err := Isolate(context.Background(), db.DB, DefaultProfile(), state,
		Options{Cron: &CronOptions{User: true, Files: []string{ct}}, Runner: &fakeRunner{crontab: &empty}})
	require.ErrorIs(t, err, ErrNoCronLine)
	msg := err.Error()
	assert.Contains(t, msg, "no active jobs.php/queue.php line found")
	assert.Contains(t, msg, "the user crontab (crontab -l), "+ct)
	assert.Contains(t, msg, "--crontab-command 'crontab -u www-data'")
	assert.Contains(t, msg, "nothing was changed")
	sameDigests(t, "after the refusal", db.Digests(t), before)
	_, err = os.Stat(state)
	assert.True(t, errors.Is(err, os.ErrNotExist), "refused isolate wrote %s: %v", state, err)

	// A dry run says the same as a warning.
	res, err := Isolate(context.Background(), db.DB, DefaultProfile(), state,
		Options{DryRun: true, Cron: &CronOptions{User: true, Files: []string{ct}}, Runner: &fakeRunner{crontab: &empty}})
	require.NoError(t, err)
	assert.Contains(t, strings.Join(res.Warnings, "\n"), "no active jobs.php/queue.php line found")
}

func TestRestoreOnlyRowsOnAnotherMachine(t *testing.T) {
	db := newSchemaDB(t)
	before := db.Digests(t)
	ctx := context.Background()
	dir := t.TempDir()
	ct := cronFile(t, dir)
	disabled := "SHELL=/bin/sh\n" + CronMarker + jobsLine
	src := func() Host { return Host{Hostname: "source-host", MachineID: "aaa"} }
	cloud := func() Host { return Host{Hostname: "cloud-host", MachineID: "bbb"} }
	state := filepath.Join(dir, "state.json")
	_, err := Isolate(ctx, db.DB, DefaultProfile(), state, Options{Cron: &CronOptions{Files: []string{ct}}, Runner: &fakeRunner{}, thisHost: src})
	require.NoError(t, err)
	s, err := ReadState(state)
	require.NoError(t, err)
	require.NotNil(t, s.Host)
	assert.Equal(t, "source-host", s.Host.Hostname)
	require.NotNil(t, s.Server)
	assert.Equal(t, db.Name, s.Server.Database)
	assert.NotZero(t, s.Server.Port)

	// The cloud copy: rows back, the crontab left alone.
	copyDB := newSchemaDB(t)
	copyBefore := copyDB.Digests(t)
	_, err = Isolate(ctx, copyDB.DB, DefaultProfile(), filepath.Join(t.TempDir(), "s.json"), Options{}) // as the dump holds it
	require.NoError(t, err)
	cp := filepath.Join(t.TempDir(), "state.json")
	b, _ := os.ReadFile(state)
	require.NoError(t, os.WriteFile(cp, b, 0o600))
	rr, err := Restore(ctx, copyDB.DB, cp, Options{Runner: &fakeRunner{}, thisHost: cloud})
	require.NoError(t, err)
	assert.Equal(t, "1 cron line belong to source-host: left alone", rr.LeftAlone)
	assert.Empty(t, rr.Cron)
	assert.Equal(t, int64(9), rr.Restored())
	assert.Zero(t, rr.Conflicts())
	sameDigests(t, "cloud copy after restore", copyDB.Digests(t), copyBefore)
	assert.Equal(t, disabled, readFile(t, ct))

	// The copy on the machine isolate ran on (a rehearsal, the demo): still
	// another database, so the rows only.
	_, err = Isolate(ctx, copyDB.DB, DefaultProfile(), filepath.Join(t.TempDir(), "s.json"), Options{})
	require.NoError(t, err)
	cp2 := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(cp2, b, 0o600))
	rr, err = Restore(ctx, copyDB.DB, cp2, Options{Runner: &fakeRunner{}, thisHost: src})
	require.NoError(t, err)
	assert.Contains(t, rr.LeftAlone, "1 cron line belong to the installation of database "+db.Name)
	assert.Empty(t, rr.Cron)
	sameDigests(t, "same-machine copy after restore", copyDB.Digests(t), copyBefore)
	assert.Equal(t, disabled, readFile(t, ct))

	// RowsOnly on the source machine too.
	rr, err = Restore(ctx, db.DB, state, Options{RowsOnly: true, Runner: &fakeRunner{}, thisHost: src})
	require.NoError(t, err)
	assert.Contains(t, rr.LeftAlone, "left alone (rows only)")
	assert.Equal(t, disabled, readFile(t, ct))
	// A rows-only restore is not a full one: a new round is refused.
	_, err = Isolate(ctx, db.DB, DefaultProfile(), state, Options{thisHost: src})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "restored rows only and still holds 1 cron line")

	// On the machine isolate ran on, everything comes back.
	rr, err = Restore(ctx, db.DB, state, Options{Runner: &fakeRunner{}, thisHost: src})
	require.NoError(t, err)
	assert.Empty(t, rr.LeftAlone)
	assert.Equal(t, "SHELL=/bin/sh\n"+jobsLine, readFile(t, ct))
	sameDigests(t, "after restore", db.Digests(t), before)

	// A state file without a machine (older versions) is restored whole.
	_, err = Isolate(ctx, db.DB, DefaultProfile(), state, Options{Cron: &CronOptions{Files: []string{ct}}, Runner: &fakeRunner{}, thisHost: src})
	require.NoError(t, err)
	var raw map[string]any
	b, _ = os.ReadFile(state)
	require.NoError(t, json.Unmarshal(b, &raw))
	delete(raw, "host")
	b, _ = json.Marshal(raw)
	require.NoError(t, os.WriteFile(state, b, 0o600))
	rr, err = Restore(ctx, db.DB, state, Options{Runner: &fakeRunner{}, thisHost: cloud})
	require.NoError(t, err)
	assert.Empty(t, rr.LeftAlone)
	assert.Equal(t, "SHELL=/bin/sh\n"+jobsLine, readFile(t, ct))
}

func TestLockFileRemoved(t *testing.T) {
	db := newSchemaDB(t)
	ctx := context.Background()
	state := filepath.Join(t.TempDir(), "state.json")
	_, err := Isolate(ctx, db.DB, DefaultProfile(), state, Options{})
	require.NoError(t, err)
	noLockLeft(t, state)
	_, err = Restore(ctx, db.DB, state, Options{})
	require.NoError(t, err)
	noLockLeft(t, state)

	// While held, the lock keeps others out; once released and removed, a
	// holder of the old file cannot be fooled into a second lock.
	sf, err := openState(state, false)
	require.NoError(t, err)
	_, err = openState(state, false)
	require.ErrorIs(t, err, ErrLocked)
	stale, err := os.Open(state + ".lock") // opened before the removal
	require.NoError(t, err)
	defer stale.Close()
	sf.close()
	noLockLeft(t, state)
	sf2, err := openState(state, false)
	require.NoError(t, err)
	defer sf2.close()
	_, err = os.Stat(state + ".lock")
	require.NoError(t, err, "the new holder's lock file")
	_, err = openState(state, false)
	require.ErrorIs(t, err, ErrLocked, "the new lock file must keep others out")
}
