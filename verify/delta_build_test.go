package verify

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// deltaFiles is a delta archive taken apart, so that a test can alter a
// piece and write it again with a manifest that agrees with what it
// wants to agree with.
type deltaFiles struct {
	path    string
	sql     []byte // the stream before its completion marker
	m       *Manifest
	changes []byte // the changes file
	rows    []byte // the row digests file
}

// realDelta dumps db into dir/name with dump --since the full dump at
// base, and takes the result apart.
func realDelta(t *testing.T, db *mysqltest.DB, base, dir, name string) *deltaFiles {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, name)
	res, err := dump.File(ctx, db.DB, path, dump.Config{Database: db.Name, Since: manifest.PathFor(base)}, dump.Options{})
	require.NoError(t, err, "dump --since")
	require.NotNil(t, res.Delta, "dump --since wrote a delta")
	m, err := manifest.Read(manifest.PathFor(path))
	require.NoError(t, err)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, _, err := codec.NewReader(f, nil)
	require.NoError(t, err)
	defer r.Close()
	plain, err := io.ReadAll(r)
	require.NoError(t, err)
	end := bytes.LastIndex(plain, []byte("\n"+manifest.MarkerPrefix))
	require.Positive(t, end, "the delta ends with its completion marker")
	d := &deltaFiles{path: path, sql: plain[:end+1], m: m}
	d.changes, err = os.ReadFile(chunk.ChangesPathFor(path))
	require.NoError(t, err)
	d.rows, err = os.ReadFile(chunk.PathFor(path))
	require.NoError(t, err)
	return d
}

// write stores the delta: the archive (the stream and its completion
// marker, through the codec its name says), its changes and row digests
// files, and its manifest, which it makes record them.
func (d *deltaFiles) write(t *testing.T) {
	t.Helper()
	h := manifest.NewStreamHash()
	h.Write(d.sql)
	stream := manifest.StreamOf(int64(len(d.sql)), h)
	plain := append(append([]byte{}, d.sql...), stream.Marker()...)
	var buf bytes.Buffer
	w, err := codec.NewWriter(&buf, codec.KindFromPath(d.path), codec.WriterOptions{})
	require.NoError(t, err)
	_, err = w.Write(plain)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, os.WriteFile(d.path, buf.Bytes(), 0o600))
	require.NoError(t, os.WriteFile(chunk.ChangesPathFor(d.path), d.changes, 0o600))
	require.NoError(t, os.WriteFile(chunk.PathFor(d.path), d.rows, 0o600))
	d.m.SQL = stream
	d.m.File = manifest.File{Name: filepath.Base(d.path), Size: int64(buf.Len()), SHA256: sha(buf.Bytes())}
	d.m.RowDigests.Name = filepath.Base(chunk.PathFor(d.path))
	d.m.Delta.Changes = manifest.File{Name: filepath.Base(chunk.ChangesPathFor(d.path)), Size: int64(len(d.changes)), SHA256: sha(d.changes)}
	require.NoError(t, manifest.Write(manifest.PathFor(d.path), d.m))
}

// copyTo returns a copy of d to be written at path, with a manifest of its
// own (the delta table list copied too).
func (d *deltaFiles) copyTo(path string) *deltaFiles {
	m := *d.m
	rd := *d.m.RowDigests
	delta := *d.m.Delta
	delta.Tables = append([]manifest.DeltaTable{}, delta.Tables...)
	m.RowDigests, m.Delta = &rd, &delta
	return &deltaFiles{path: path, sql: d.sql, m: &m, changes: d.changes, rows: d.rows}
}

// mariadbLoad feeds the archive at path (any codec) to the stock mariadb
// client, into db.
func mariadbLoad(t *testing.T, db *mysqltest.DB, path string) {
	t.Helper()
	bin := mysqltest.Tool(t, "mariadb", "mysql")
	cfg := db.Config()
	args := []string{"--no-defaults", "--user=" + cfg.User, "--binary-mode", "--max-allowed-packet=1G"}
	if cfg.Net == "unix" {
		args = append(args, "--socket="+cfg.Addr)
	} else {
		host, port, _ := net.SplitHostPort(cfg.Addr)
		args = append(args, "--protocol=tcp", "--host="+host, "--port="+port)
	}
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, _, err := codec.NewReader(f, nil)
	require.NoError(t, err)
	defer r.Close()
	cmd := exec.Command(bin, append(args, db.Name)...)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+cfg.Passwd)
	cmd.Stdin = r
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), "mariadb < %s: %s", path, stderr.String())
}
