package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/isolate"
)

const cliJobsLine = "* * * * * php -q /srv/la/scripts/jobs.php\n"

// crontabStandIn writes a stand-in for crontab(1) that keeps the user
// crontab in a file: -l prints it, - replaces it.
func crontabStandIn(t *testing.T, content string) (cmd, file string) {
	t.Helper()
	dir := t.TempDir()
	file = filepath.Join(dir, "user-crontab")
	require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
	cmd = filepath.Join(dir, "crontab")
	script := "#!/bin/sh\nf='" + file + "'\ncase \"$1\" in\n-l) cat \"$f\" ;;\n-) cat > \"$f\" ;;\n*) exit 2 ;;\nesac\n"
	require.NoError(t, os.WriteFile(cmd, []byte(script), 0o755))
	return cmd, file
}

func fileText(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// pasteArgs splits a printed command the way sh would (through sh itself).
func pasteArgs(t *testing.T, command string) []string {
	t.Helper()
	out, err := exec.Command("sh", "-c", "set -- "+command+`; for a in "$@"; do printf '%s\0' "$a"; done`).Output()
	require.NoError(t, err, command)
	args := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	require.Equal(t, "lamigrate", args[0], command)
	return args[1:]
}

func TestCLIIsolateCronPendingJobs(t *testing.T) {
	db, dsn := isolateFixture(t)
	db.MustExec(t, "INSERT INTO qu_g_queued_jobs VALUES (1,'P'),(2,'R'),(3,'F')")
	before := tableDigests(t, db)
	ctab, userFile := crontabStandIn(t, cliJobsLine)
	state := filepath.Join(t.TempDir(), "state.json")

	code, _, stderr := runCLI(t, nil, "isolate", "--dsn", dsn, "--state", state, "--cron", "--crontab-command", ctab, "--cron-file", filepath.Join(t.TempDir(), "none"))
	require.Equal(t, exitFailure, code, stderr)
	msg := lastLine(stderr)
	assert.True(t, strings.HasPrefix(msg, "lamigrate isolate: 2 background jobs are still pending (qu_g_queued_jobs); they run from the cron line --cron would switch off"), msg)
	assert.Contains(t, msg, "(or pass --ignore-pending-jobs)")
	sameTables(t, "after the refusal", tableDigests(t, db), before)
	assert.Equal(t, cliJobsLine, fileText(t, userFile))

	// Paste the three commands it names, finishing the jobs (the cron) before drain.
	parts := strings.SplitN(msg, "nothing was changed: run ", 2)
	require.Len(t, parts, 2, msg)
	cmds := strings.SplitN(strings.TrimSuffix(parts[1], " (or pass --ignore-pending-jobs)"), ", then ", 3)
	require.Len(t, cmds, 3, msg)
	first := strings.TrimSuffix(cmds[0], " (everything but cron)")
	code, _, stderr = runCLI(t, nil, pasteArgs(t, first)...)
	require.Equal(t, 0, code, "pasted %s: %s", first, stderr)
	db.MustExec(t, "UPDATE qu_g_queued_jobs SET status = 'F'")
	code, _, stderr = runCLI(t, nil, append(pasteArgs(t, cmds[1]), "--interval", "10ms")...)
	require.Equal(t, 0, code, "pasted %s: %s", cmds[1], stderr)
	code, out, stderr := runCLI(t, nil, pasteArgs(t, cmds[2])...)
	require.Equal(t, 0, code, "pasted %s: %s", cmds[2], stderr)
	assert.Contains(t, out, "cron    "+ctab+": 1 line")
	assert.Equal(t, isolate.CronMarker+cliJobsLine, fileText(t, userFile))
	_, err := os.Stat(state + ".lock")
	assert.True(t, os.IsNotExist(err), "lock file left behind: %v", err)
}

func TestCLIIsolateFailureKeepsEarlierRound(t *testing.T) {
	db, dsn := isolateFixture(t)
	before := tableDigests(t, db)
	state := filepath.Join(t.TempDir(), "state.json")
	code, _, stderr := runCLI(t, nil, "isolate", "--dsn", dsn, "--state", state)
	require.Equal(t, 0, code, stderr)
	isolated := tableDigests(t, db)

	// A crontab program that is missing: refused before anything changes.
	code, _, stderr = runCLI(t, nil, "isolate", "--dsn", dsn, "--state", state, "--cron", "--crontab-command", filepath.Join(t.TempDir(), "crontab"), "--cron-file", filepath.Join(t.TempDir(), "none"))
	require.Equal(t, exitFailure, code, stderr)
	assert.Contains(t, lastLine(stderr), "no active jobs.php/queue.php line found")
	assert.Contains(t, lastLine(stderr), "nothing was changed")
	sameTables(t, "after the refused --cron", tableDigests(t, db), isolated)

	// A crontab that can be read but not written: this call fails half way.
	cmd := filepath.Join(t.TempDir(), "crontab")
	require.NoError(t, os.WriteFile(cmd, []byte("#!/bin/sh\ncase \"$1\" in\n-l) printf '%s' '"+cliJobsLine+"' ;;\n*) echo 'crontab: permission denied' >&2; exit 1 ;;\nesac\n"), 0o755))
	code, _, stderr = runCLI(t, nil, "isolate", "--dsn", dsn, "--state", state, "--cron", "--crontab-command", cmd, "--cron-file", filepath.Join(t.TempDir(), "none"))
	require.Equal(t, exitFailure, code, stderr)
	msg := lastLine(stderr)
	assert.Contains(t, msg, "switched back on what this run changed (nothing); still isolated from earlier runs: mail accounts (2 rows)")
	assert.False(t, strings.HasPrefix(msg, "lamigrate isolate: isolate:"), msg)
	sameTables(t, "after the failed --cron", tableDigests(t, db), isolated)

	// The restore command it prints works when pasted.
	i := strings.Index(msg, "restore them with ")
	require.GreaterOrEqual(t, i, 0, msg)
	restore := msg[i+len("restore them with "):]
	code, _, stderr = runCLI(t, nil, pasteArgs(t, restore)...)
	require.Equal(t, 0, code, "pasted %s: %s", restore, stderr)
	sameTables(t, "after the pasted restore", tableDigests(t, db), before)
}

func TestCLIIsolateAlreadyIsolated(t *testing.T) {
	db, dsn := isolateFixture(t)
	dir := t.TempDir()
	first := filepath.Join(dir, "isolate-state.json")
	code, _, stderr := runCLI(t, nil, "isolate", "--dsn", dsn, "--state", first)
	require.Equal(t, 0, code, stderr)
	isolated := tableDigests(t, db)

	second := filepath.Join(dir, "new.json")
	code, _, stderr = runCLI(t, nil, "isolate", "--dsn", dsn, "--state", second)
	require.Equal(t, exitFailure, code, stderr)
	msg := lastLine(stderr)
	assert.Contains(t, msg, "lamigrate isolate: database "+db.Name+" already looks isolated: the state file "+first+" holds the original values")
	assert.Contains(t, msg, "(or pass --already-isolated-ok)")
	_, err := os.Stat(second)
	assert.True(t, os.IsNotExist(err), "refused isolate wrote %s", second)
	sameTables(t, "after the refusal", tableDigests(t, db), isolated)

	// The "continue with" command works when pasted.
	i, j := strings.Index(msg, "continue with "), strings.Index(msg, ", or restore first")
	require.True(t, i >= 0 && j > i, msg)
	cont := msg[i+len("continue with ") : j]
	code, out, stderr := runCLI(t, nil, pasteArgs(t, cont)...)
	require.Equal(t, 0, code, "pasted %s: %s", cont, stderr)
	assert.Contains(t, out, "already isolated")

	code, _, stderr = runCLI(t, nil, "isolate", "--dsn", dsn, "--state", second, "--already-isolated-ok")
	assert.Equal(t, 0, code, stderr)
}

func TestCLIRestoreRowsOnly(t *testing.T) {
	db, dsn := isolateFixture(t)
	before := tableDigests(t, db)
	dir := t.TempDir()
	ct := filepath.Join(dir, "crontab")
	require.NoError(t, os.WriteFile(ct, []byte(cliJobsLine), 0o644))
	state := filepath.Join(dir, "state.json")
	code, _, stderr := runCLI(t, nil, "isolate", "--dsn", dsn, "--state", state, "--cron", "--crontab-command", filepath.Join(dir, "no-crontab"), "--cron-file", ct)
	// The user crontab program is missing: refused and switched back on.
	require.Equal(t, exitFailure, code, stderr)
	code, _, stderr = runCLI(t, nil, "restore", "--dsn", dsn, "--state", state)
	require.Equal(t, 0, code, stderr)

	code, _, stderr = runCLI(t, nil, "isolate", "--dsn", dsn, "--state", state, "--cron", "--cron-file", ct, "--crontab-command", "true")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, isolate.CronMarker+cliJobsLine, fileText(t, ct))
	code, out, stderr := runCLI(t, nil, "restore", "--dsn", dsn, "--state", state, "--rows-only")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "not restored: 1 cron line: left alone (rows only)")
	assert.Equal(t, isolate.CronMarker+cliJobsLine, fileText(t, ct), "--rows-only touched the crontab")
	sameTables(t, "after restore --rows-only", tableDigests(t, db), before)

	// Another machine's state file: rows only, by itself.
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(fileText(t, state)), &raw))
	raw["host"] = map[string]any{"hostname": "source-server", "machine_id": "0123"}
	raw["restored"], raw["restore_rows_only"] = nil, false
	b, _ := json.Marshal(raw)
	require.NoError(t, os.WriteFile(state, b, 0o600))
	code, out, stderr = runCLI(t, nil, "restore", "--dsn", dsn, "--state", state)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "not restored: 1 cron line belong to source-server: left alone")
	assert.Equal(t, isolate.CronMarker+cliJobsLine, fileText(t, ct))
}

func TestCLIDrainTimeoutOneLine(t *testing.T) {
	db, dsn := isolateFixture(t)
	db.MustExec(t, "INSERT INTO qu_g_queued_jobs VALUES (1,'P'),(2,'P')")
	code, _, stderr := runCLI(t, nil, "drain", "--dsn", dsn, "--interval", "5ms", "--timeout", "30ms")
	require.Equal(t, exitFailure, code)
	msg := lastLine(stderr)
	assert.True(t, strings.HasPrefix(msg, "lamigrate drain: timed out after 30ms with 2 background jobs still pending;"), msg)
	assert.NotContains(t, msg, "isolate:")
	i := strings.Index(msg, "wait longer with ")
	require.GreaterOrEqual(t, i, 0, msg)
	again := pasteArgs(t, msg[i+len("wait longer with "):])
	assert.Contains(t, again, "--timeout")
	db.MustExec(t, "UPDATE qu_g_queued_jobs SET status = 'F'")
	code, _, stderr = runCLI(t, nil, append(again, "--interval", "5ms")...)
	assert.Equal(t, 0, code, stderr)
}

func TestCLIIsolateLegend(t *testing.T) {
	_, dsn := isolateFixture(t)
	code, out, stderr := runCLI(t, nil, "isolate", "--dsn", dsn, "--state", filepath.Join(t.TempDir(), "s.json"), "--dry-run")
	require.Equal(t, 0, code, stderr)
	tagged := strings.Contains(out, "["+isolate.Guess+"]") || strings.Contains(out, "["+isolate.Inferred+"]")
	require.True(t, tagged, "the default profile has unconfirmed entries; output %q", out)
	assert.Contains(t, out, "[inferred]/[guess]: the profile entry's table or column is not confirmed for every LiveAgent version; lamigrate check lists the tables and columns that look like sources")
}
