package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// TestVerifyDeltaRenamedOrAlone: a delta copied under another name (as
// pull writes it, changes file beside it under the new name) verifies; a
// delta without its manifest is called a delta, not a whole dump.
func TestVerifyDeltaRenamedOrAlone(t *testing.T) {
	db := dumpFixture(t)
	dsn := db.Config().FormatDSN()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.sql.zst")
	code, _, stderr := runCLI(t, nil, "dump", "--dsn", dsn, "-o", base)
	require.Equal(t, 0, code, stderr)
	db.MustExec(t, "UPDATE qu_la_users SET name = 'Anne' WHERE id = 'a1b2c3d4'")
	delta := filepath.Join(dir, "delta.sql.zst")
	code, _, stderr = runCLI(t, nil, "dump", "--dsn", dsn, "-o", delta, "--since", manifest.PathFor(base))
	require.Equal(t, 0, code, stderr)

	other := t.TempDir()
	renamed := filepath.Join(other, "x.sql.zst")
	for from, to := range map[string]string{delta: renamed, manifest.PathFor(delta): manifest.PathFor(renamed), chunk.ChangesPathFor(delta): chunk.ChangesPathFor(renamed)} {
		b, err := os.ReadFile(from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(to, b, 0o600))
	}
	code, stdout, stderr := runCLI(t, nil, "verify", renamed)
	require.Equal(t, 0, code, "verify of a renamed delta: %s\n%s", stderr, stdout)
	assert.Contains(t, stdout, "a whole and complete delta since base.sql.zst")

	require.NoError(t, os.Remove(manifest.PathFor(renamed)))
	code, stdout, stderr = runCLI(t, nil, "verify", renamed)
	require.Equal(t, 0, code, "verify of a delta without its manifest: %s\n%s", stderr, stdout)
	assert.Contains(t, stdout, "lamigrate delta with completion marker, without its manifest")
	assert.Contains(t, stdout, "without its manifest its content is not checked")
	assert.NotContains(t, stdout, "whole and complete (")
}
