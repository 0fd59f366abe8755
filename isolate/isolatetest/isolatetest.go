package isolatetest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/isolate"
)

// CronFixture writes a stand-in crontab program (the test machine has
// none) whose user crontab runs jobs.php, a system crontab without
// LiveAgent, and a cron.d folder whose liveagent file runs queue.php (and
// whose hidden file, which cron ignores, runs jobs.php). It returns the
// options isolate would get and the stand-in program's path.
func CronFixture(t testing.TB) (*isolate.CronOptions, string) {
	t.Helper()
	dir := t.TempDir()
	user := filepath.Join(dir, "user-crontab")
	prog := filepath.Join(dir, "crontab")
	crond := filepath.Join(dir, "cron.d")
	files := map[string]string{
		user:                              "MAILTO=root\n* * * * * php -q /srv/la/scripts/jobs.php\n# */5 * * * * php /srv/la/scripts/queue.php\n",
		prog:                              "#!/bin/sh\ncase \"$1\" in -l) cat '" + user + "' ;; -) cat > '" + user + "' ;; *) echo \"usage: $0 -l|-\" >&2; exit 1 ;; esac\n",
		filepath.Join(crond, "liveagent"): "# comment with jobs.php\n*/5 * * * * www-data php -q /srv/la/scripts/queue.php\n",
		filepath.Join(crond, ".hidden"):   "* * * * * root php /srv/la/scripts/jobs.php\n",
		filepath.Join(dir, "crontab.sys"): "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
	}
	for p, body := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755), "isolatetest: making the folder of %s", p)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o755), "isolatetest: writing %s", p)
	}
	return &isolate.CronOptions{User: true, Command: []string{prog},
		Files: []string{filepath.Join(dir, "crontab.sys"), filepath.Join(crond, "*")}}, prog
}
