package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
)

// TestDumpSinceCLI: dump --since writes a delta and says what it holds;
// misuse is a usage error naming the fix.
func TestDumpSinceCLI(t *testing.T) {
	db := dumpFixture(t)
	dsn := db.Config().FormatDSN()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.sql.zst")
	code, _, stderr := runCLI(t, nil, "dump", "--dsn", dsn, "-o", base)
	require.Equal(t, 0, code, stderr)
	db.MustExec(t, "UPDATE qu_la_users SET name = 'Anne' WHERE id = 'a1b2c3d4'", "INSERT INTO extra VALUES (2)")

	delta := filepath.Join(dir, "delta.sql.zst")
	code, stdout, stderr := runCLI(t, nil, "dump", "--dsn", dsn, "-o", delta, "--since", manifest.PathFor(base))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "delta:    since base.sql.zst: 2 rows replaced or new, 0 rows deleted in 2 tables changed row by row")
	assert.Contains(t, stdout, "quiet:    nothing wrote to the dumped tables between the snapshot and the end")
	assert.Contains(t, stdout, "changes:  "+delta+".changes.zst")

	db.MustExec(t, "DELETE FROM extra WHERE id = 1")
	code, stdout, stderr = runCLI(t, nil, "--json", "dump", "--dsn", dsn, "-o", filepath.Join(dir, "d2.sql.zst"), "--since", manifest.PathFor(delta), "--live")
	require.Equal(t, 0, code, stderr)
	var res dumpOutput
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	require.NotNil(t, res.Delta, "--json has the delta")
	assert.Equal(t, "delta.sql.zst", res.Delta.Base)
	assert.Equal(t, int64(1), res.Delta.Deleted)
	assert.False(t, res.Delta.Quiet)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", filepath.Join(dir, "x.sql.zst"), "--live"}, "--live applies to a delta (--since) only"},
		{[]string{"-o", "sftp://u@h/d/x.sql.zst", "--since", manifest.PathFor(base)}, "--since writes a delta to a local file only"},
		{[]string{"-o", filepath.Join(dir, "y.sql.zst"), "--since", filepath.Join(dir, "nope.manifest.json")}, "unusable base"},
		{[]string{"-o", filepath.Join(dir, "y.sql.zst"), "--since", base}, "--since takes the base's manifest, " + manifest.PathFor(base)},
		{[]string{"-o", filepath.Join(dir, "missing", "y.sql.zst")}, "the folder " + filepath.Join(dir, "missing") + " does not exist: create it first"},
	} {
		code, _, stderr := runCLI(t, nil, append([]string{"dump", "--dsn", dsn}, c.args...)...)
		assert.NotEqual(t, 0, code, c.args)
		assert.Contains(t, stderr, c.want, c.args)
		assert.NotContains(t, stderr, "goroutine", "no stack trace")
	}
}
