package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
)

// TestCLIPullIntoNewFolder: a destination ending in / is a folder, also
// when --mkdir is about to create it and the path is relative: the file
// keeps its remote name inside it, with its manifest beside it.
func TestCLIPullIntoNewFolder(t *testing.T) {
	f := newPushFixture(t)
	code, _, stderr := runCLI(t, f.env, "push", f.file, f.url(f.remote+"/"))
	require.Equal(t, 0, code, "push: %s", stderr)
	t.Chdir(f.local)
	for _, tc := range []struct{ name, arg, want string }{
		{"absolute", filepath.Join(f.local, "abs", "in") + "/", filepath.Join(f.local, "abs", "in", "dump.sql")},
		{"relative", "rel/in/", filepath.Join(f.local, "rel", "in", "dump.sql")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, f.env, "pull", "--mkdir", "--no-state", f.url(f.remote+"/dump.sql"), tc.arg)
			require.Equal(t, 0, code, "pull --mkdir into %s: %s", tc.arg, stderr)
			got, err := os.ReadFile(tc.want)
			require.NoError(t, err, "pull --mkdir into %s must write %s", tc.arg, tc.want)
			require.Equal(t, f.data, got, "pulled file differs")
			_, err = os.Stat(manifest.PathFor(tc.want))
			require.NoError(t, err, "the manifest must land beside the pulled file")
		})
	}
}
