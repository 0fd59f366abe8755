package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// rewriteRows rewrites the row digests file at path through edit, which
// sees each table's rows and returns the ones to keep.
func rewriteRows(t *testing.T, path string, edit func(tb string, rows []chunk.Row) []chunk.Row) []byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, err := chunk.NewReader(f)
	require.NoError(t, err)
	defer r.Close()
	var out bytes.Buffer
	w, err := chunk.NewWriter(&out)
	require.NoError(t, err)
	for {
		var rows []chunk.Row
		tb, err := r.Next(func(row chunk.Row) error {
			rows = append(rows, chunk.Row{Key: append([]byte(nil), row.Key...), Digest: row.Digest})
			return nil
		})
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		w.BeginTable(tb.Name, tb.Key)
		for _, row := range edit(tb.Name, rows) {
			w.Row(row.Key, row.Digest)
		}
		if tb.Key == nil {
			for range tb.Rows {
				w.Row(nil, 0)
			}
		}
		w.EndTable()
	}
	require.NoError(t, w.Close())
	return out.Bytes()
}

// TestRowDigestsFile: verify FILE checks the row digests file the manifest
// names: present, its size and SHA-256, whole, the manifest's row counts;
// an older manifest that names none passes without one.
func TestRowDigestsFile(t *testing.T) {
	db := mysqltest.New(t)
	seed(t, db)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "d.sql.zst")
	_, err := dump.File(ctx, db.DB, path, dump.Config{Database: db.Name}, dump.Options{})
	require.NoError(t, err)
	rpath := chunk.PathFor(path)
	orig, err := os.ReadFile(rpath)
	require.NoError(t, err)
	m, err := manifest.Read(manifest.PathFor(path))
	require.NoError(t, err)
	require.NotNil(t, m.RowDigests)

	rep, err := File(ctx, path, Options{})
	require.NoError(t, err)
	last := rep.Checks[len(rep.Checks)-1]
	assert.Equal(t, "row digests", last.Name)
	assert.True(t, last.OK, last.Detail)
	assert.Contains(t, last.Detail, "d.sql.zst.rows.zst")

	// resign makes the manifest record data's size and SHA-256, so that
	// the checks behind them are reached.
	resign := func(data []byte) *Manifest {
		mm := *m
		rd := *m.RowDigests
		sum := sha256.Sum256(data)
		rd.Size, rd.SHA256 = int64(len(data)), hex.EncodeToString(sum[:])
		mm.RowDigests = &rd
		return &mm
	}
	lessRows := rewriteRows(t, rpath, func(tb string, rows []chunk.Row) []chunk.Row {
		if tb == "qu_la_conversations" {
			return rows[:len(rows)-1]
		}
		return rows
	})
	flipped := append([]byte(nil), orig...)
	flipped[len(flipped)/2] ^= 1
	for _, tt := range []struct {
		name   string
		data   []byte // the file's content; nil: no file
		m      *Manifest
		what   string
		want   string
		passes bool
	}{
		{name: "missing: noted, not a failure (a pushed copy travels without it)", m: m, passes: true},
		{name: "one byte flipped", data: flipped, m: m, what: RowDigestsSHA256, want: "row digests file's sha256 is"},
		{name: "cut short", data: orig[:len(orig)-6], m: m, what: RowDigestsSize, want: "row digests file's size is"},
		{name: "cut short, manifest agrees", data: orig[:len(orig)-6], m: resign(orig[:len(orig)-6]), what: RowDigestsDamaged, want: "cannot be read"},
		{name: "a row dropped, manifest agrees", data: lessRows, m: resign(lessRows), what: RowDigestsRows,
			want: "table `qu_la_conversations` has 2 rows in the row digests file; the manifest says 3"},
		{name: "old manifest without row digests", m: func() *Manifest { mm := *m; mm.RowDigests = nil; return &mm }(), passes: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(rpath)
			if tt.data != nil {
				require.NoError(t, os.WriteFile(rpath, tt.data, 0o600))
			}
			rep, err := File(ctx, path, Options{Manifest: tt.m})
			if tt.passes {
				require.NoError(t, err)
				assert.True(t, rep.OK)
				return
			}
			require.ErrorIs(t, err, ErrMismatch)
			var mm *MismatchError
			require.ErrorAs(t, err, &mm)
			assert.Equal(t, tt.what, mm.What)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n")
			assert.False(t, rep.OK)
			assert.Equal(t, err.Error(), rep.Failure)
		})
	}
}
