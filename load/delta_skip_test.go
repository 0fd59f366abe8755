package load

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// TestDeltaRefusesSkippedCopy: a second delta given to a target that holds
// only the base (the first delta skipped) is refused before anything
// changes, although every row it touches is as the base has it: a table
// the first delta made is missing.
func TestDeltaRefusesSkippedCopy(t *testing.T) {
	ctx := context.Background()
	src := mysqltest.New(t)
	src.MustExec(t,
		"CREATE TABLE a (id INT PRIMARY KEY, v INT)",
		"INSERT INTO a SELECT seq, seq FROM seq_1_to_100")
	dir := t.TempDir()
	dumpTo := func(name, since string) (string, *manifest.Manifest) {
		path := filepath.Join(dir, name)
		_, err := dump.File(ctx, src.DB, path, dump.Config{Database: src.Name, Since: since, Live: since != ""}, dump.Options{})
		require.NoError(t, err, "dump %s", name)
		m, err := manifest.Read(manifest.PathFor(path))
		require.NoError(t, err)
		return path, m
	}
	base, baseM := dumpTo("base.sql.zst", "")
	src.MustExec(t, "CREATE TABLE made (id INT PRIMARY KEY)", "INSERT INTO made VALUES (1)", "UPDATE a SET v = -v WHERE id = 1")
	d1, _ := dumpTo("d1.sql.zst", manifest.PathFor(base))
	src.MustExec(t, "UPDATE a SET v = -v WHERE id = 2")
	d2, d2M := dumpTo("d2.sql.zst", manifest.PathFor(d1))

	target := mysqltest.New(t)
	in, err := os.Open(base)
	require.NoError(t, err)
	_, err = Load(ctx, target.Config(), in, Config{Threads: 2, RequireMarker: true, Fingerprint: baseM.SQL.XXH3})
	in.Close()
	require.NoError(t, err, "importing the base")
	before := target.Digests(t)

	in, err = os.Open(d2)
	require.NoError(t, err)
	defer in.Close()
	_, err = Load(ctx, target.Config(), in, Config{Threads: 2, RequireMarker: true, Fingerprint: d2M.SQL.XXH3},
		WithDelta(Delta{Archive: d2, Manifest: d2M}))
	require.ErrorIs(t, err, ErrNotBase)
	assert.Contains(t, err.Error(), "table `made`, which the base holds and the delta leaves as it is, is not in")
	assert.Contains(t, err.Error(), "was an earlier delta skipped?")
	assert.Contains(t, err.Error(), "import the base first (d1.sql.zst)")
	assert.Equal(t, before, target.Digests(t), "a refused delta changed the target")
	assert.False(t, hasProgressTable(t, target))
}
