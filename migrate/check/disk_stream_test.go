package check

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/isolate"
)

// TestCheckDiskByMode: the disk item weighs what the chosen mode needs in
// the output folder: the archive, or a few MB for a streaming dump.
func TestCheckDiskByMode(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, `CREATE TABLE qu_g_versions (versionid INT PRIMARY KEY, name VARCHAR(40), application VARCHAR(20), done DATETIME NULL)`)
	db.MustExec(t, `CREATE TABLE t (id INT PRIMARY KEY, v TEXT)`)
	db.MustExec(t, `INSERT INTO t SELECT seq, REPEAT('x', 500) FROM seq_1_to_2000`)
	dir := t.TempDir()
	for _, tt := range []struct {
		name   string
		stream bool
		want   []string
	}{
		{"archive", false, []string{"free for a dump needing about", "archive and up to"}},
		{"stream", true, []string{"free for a dump needing about 16.0 MiB (journal, reports and state file; the", "archive streams to the transfer server)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), db.DB, Config{OutDir: dir, Stream: tt.stream, Cron: &isolate.CronOptions{Files: []string{}}, SampleBytes: -1})
			require.NoError(t, err)
			fs := rep.Find("disk_space", dir)
			require.Len(t, fs, 1)
			assert.Equal(t, Info, fs[0].Severity)
			for _, w := range tt.want {
				assert.Contains(t, fs[0].Message, w)
			}
		})
	}
}
