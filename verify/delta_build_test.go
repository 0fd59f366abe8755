package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// This file builds a delta archive by hand, the way dump --since writes
// one (the delta format of issue 15): the SQL stream (drops, tables
// carried whole, DELETE and REPLACE of changed rows, triggers and views
// as they are now, the completion marker), its changes file, its row
// digests file (the full new state's) and a manifest describing the full
// new state with Delta set.

// rdTable is one table of a row digests file, with its rows.
type rdTable struct {
	key  *chunk.Key
	rows int64
	sum  uint64
	keys []string          // in the file's (key) order
	dig  map[string]uint64 // by encoded key
}

func readRowDigests(t *testing.T, path string) map[string]*rdTable {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, err := chunk.NewReader(f)
	require.NoError(t, err)
	defer r.Close()
	out := map[string]*rdTable{}
	for {
		rt := &rdTable{dig: map[string]uint64{}}
		tb, err := r.Next(func(row chunk.Row) error {
			rt.keys = append(rt.keys, string(row.Key))
			rt.dig[string(row.Key)] = row.Digest
			return nil
		})
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err, "reading %s", path)
		rt.key, rt.rows, rt.sum = tb.Key, tb.Rows, tb.Sum
		out[tb.Name] = rt
	}
}

// showCreateTest runs a SHOW CREATE statement and returns its columns by
// lower-case name.
func showCreateTest(t *testing.T, q *sql.Conn, stmt string) map[string]string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), stmt)
	require.NoError(t, err, stmt)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	require.True(t, rows.Next(), stmt)
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	require.NoError(t, rows.Scan(ptrs...))
	out := map[string]string{}
	for i, c := range cols {
		out[strings.ToLower(c)] = vals[i].String
	}
	return out
}

// tuples renders the rows of table (those whose key is in keys; all when
// keys is nil) as SQL tuples, in key order when the table has a key.
func tuples(t *testing.T, conn *sql.Conn, schema, table string, key *chunk.Key, keys [][]byte) (cols []rowhash.Column, out []string) {
	t.Helper()
	ctx := context.Background()
	all, err := rowhash.Columns(ctx, conn, schema, table)
	require.NoError(t, err)
	cols = rowhash.Stored(all)
	var exprs []string
	for _, c := range cols {
		q := ident.Quote(c.Name)
		switch c.DataType {
		case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit":
			exprs = append(exprs, "CASE WHEN "+q+" IS NULL THEN 'NULL' WHEN LENGTH("+q+") = 0 THEN '''''' ELSE CONCAT('0x', HEX("+q+")) END")
		default:
			exprs = append(exprs, "QUOTE("+q+")")
		}
	}
	query := "SELECT CONCAT('(', CONCAT_WS(',', " + strings.Join(exprs, ", ") + "), ')') FROM " + ident.Quote(table)
	if keys != nil {
		if len(keys) == 0 {
			return cols, nil
		}
		types, err := key.Types(all)
		require.NoError(t, err)
		in, err := key.AppendKeyIn(nil, types, keys)
		require.NoError(t, err)
		query += " WHERE " + string(in)
	}
	if key != nil {
		query += key.OrderBy()
	}
	rows, err := conn.QueryContext(ctx, query)
	require.NoError(t, err, query)
	defer rows.Close()
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return cols, out
}

// columnList is " (`a`, `b`)".
func columnList(cols []rowhash.Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = ident.Quote(c.Name)
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// perStatement is how many rows or keys the hand-built delta puts in one
// statement: small, so that counts add up over several.
const perStatement = 2

func writeStatements(b *bytes.Buffer, head string, items []string, tail string) {
	for i := 0; i < len(items); i += perStatement {
		b.WriteString(head)
		b.WriteString(strings.Join(items[i:min(i+perStatement, len(items))], ","))
		b.WriteString(tail)
	}
}

// handDelta is what handDelta built.
type handDelta struct {
	path    string
	sql     []byte // the stream before its completion marker
	m       *Manifest
	changes []byte // the changes file
	rows    []byte // the row digests file
}

// buildDelta writes, into dir, a delta archive (named name) of db's
// current state since the full dump at base.
func buildDelta(t *testing.T, db *mysqltest.DB, base, dir, name string) *handDelta {
	t.Helper()
	ctx := context.Background()
	full := filepath.Join(t.TempDir(), "new.sql")
	_, err := dump.File(ctx, db.DB, full, dump.Config{Database: db.Name}, dump.Options{})
	require.NoError(t, err)
	newM, err := manifest.Read(manifest.PathFor(full))
	require.NoError(t, err)
	baseBytes, err := os.ReadFile(manifest.PathFor(base))
	require.NoError(t, err)
	baseM, err := manifest.Read(manifest.PathFor(base))
	require.NoError(t, err)
	oldRD, newRD := readRowDigests(t, chunk.PathFor(base)), readRowDigests(t, chunk.PathFor(full))

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "SET NAMES utf8mb4, time_zone = '+00:00'")
	require.NoError(t, err)

	var b bytes.Buffer
	b.WriteString("-- lamigrate test delta dump (mysqldump-compatible; load with the mariadb/mysql client after its base)\n--\n")
	b.WriteString("/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n/*!40101 SET NAMES utf8mb4 */;\n")
	b.WriteString("/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;\n/*!40103 SET TIME_ZONE='+00:00' */;\n")
	b.WriteString("/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n")
	b.WriteString("/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n")
	fmt.Fprintf(&b, "\n--\n-- Delta since base %s\n--\n\n", filepath.Base(base))
	seen := map[string]bool{}
	for _, tr := range append(append([]string{}, baseM.Triggers...), newM.Triggers...) {
		if !seen["t"+tr] {
			seen["t"+tr] = true
			fmt.Fprintf(&b, "DROP TRIGGER IF EXISTS %s;\n", ident.Quote(tr))
		}
	}
	for _, v := range append(append([]string{}, baseM.Views...), newM.Views...) {
		if !seen["v"+v] {
			seen["v"+v] = true
			fmt.Fprintf(&b, "DROP VIEW IF EXISTS %s;\n", ident.Quote(v))
		}
	}

	var drops, whole, byRows []manifest.DeltaTable
	for _, bt := range baseM.Tables {
		if newM.Table(bt.Name) == nil {
			drops = append(drops, manifest.DeltaTable{Name: bt.Name, Action: manifest.DeltaDrop})
			fmt.Fprintf(&b, "DROP TABLE IF EXISTS %s;\n", ident.Quote(bt.Name))
		}
	}
	var cb bytes.Buffer
	cw, err := chunk.NewChangesWriter(&cb)
	require.NoError(t, err)
	for _, nt := range newM.Tables {
		q := ident.Quote(nt.Name)
		o, n := oldRD[nt.Name], newRD[nt.Name]
		why := ""
		switch {
		case baseM.Table(nt.Name) == nil:
			why = "new"
		case o.key == nil || n.key == nil:
			if o.rows != n.rows || o.sum != n.sum {
				why = "no key"
			}
		}
		if why != "" {
			cols, rows := tuples(t, conn, db.Name, nt.Name, n.key, nil)
			sc := showCreateTest(t, conn, "SHOW CREATE TABLE "+q)
			fmt.Fprintf(&b, "\n--\n-- Table structure for table %s\n--\n\nDROP TABLE IF EXISTS %s;\n%s;\n", q, q, sc["create table"])
			fmt.Fprintf(&b, "\n--\n-- Dumping data for table %s\n--\n\n/*!40000 ALTER TABLE %s DISABLE KEYS */;\n", q, q)
			writeStatements(&b, "INSERT INTO "+q+columnList(cols)+" VALUES ", rows, ";\n")
			fmt.Fprintf(&b, "/*!40000 ALTER TABLE %s ENABLE KEYS */;\n", q)
			whole = append(whole, manifest.DeltaTable{Name: nt.Name, Action: manifest.DeltaWhole, Why: why, Replaced: int64(len(rows))})
			continue
		}
		if o.key == nil {
			continue // keyless and unchanged
		}
		var changes []chunk.Change
		var gone, written [][]byte
		for _, k := range o.keys {
			d, ok := n.dig[k]
			switch {
			case !ok:
				changes = append(changes, chunk.Change{Key: []byte(k), InBase: true, Base: o.dig[k]})
				gone = append(gone, []byte(k))
			case d != o.dig[k]:
				changes = append(changes, chunk.Change{Key: []byte(k), InBase: true, Base: o.dig[k], InNew: true, New: d})
				written = append(written, []byte(k))
			}
		}
		for _, k := range n.keys {
			if _, ok := o.dig[k]; !ok {
				changes = append(changes, chunk.Change{Key: []byte(k), InNew: true, New: n.dig[k]})
				written = append(written, []byte(k))
			}
		}
		if len(changes) == 0 {
			continue
		}
		cw.BeginTable(nt.Name, n.key)
		for _, c := range changes {
			cw.Add(c)
		}
		cw.EndTable()
		fmt.Fprintf(&b, "\n--\n-- Changed rows of table %s\n--\n\n", q)
		if len(gone) > 0 {
			cols, err := rowhash.Columns(ctx, conn, db.Name, nt.Name)
			require.NoError(t, err)
			types, err := n.key.Types(cols)
			require.NoError(t, err)
			for i := 0; i < len(gone); i += perStatement {
				in, err := n.key.AppendKeyIn(nil, types, gone[i:min(i+perStatement, len(gone))])
				require.NoError(t, err)
				fmt.Fprintf(&b, "DELETE FROM %s WHERE %s;\n", q, in)
			}
		}
		cols, rows := tuples(t, conn, db.Name, nt.Name, n.key, written)
		require.Len(t, rows, len(written), "rows of %s", nt.Name)
		writeStatements(&b, "REPLACE INTO "+q+columnList(cols)+" VALUES ", rows, ";\n")
		byRows = append(byRows, manifest.DeltaTable{Name: nt.Name, Action: manifest.DeltaRows,
			Deleted: int64(len(gone)), Replaced: int64(len(written))})
	}
	require.NoError(t, cw.Close())

	for _, tr := range newM.Triggers {
		sc := showCreateTest(t, conn, "SHOW CREATE TRIGGER "+ident.Quote(tr))
		fmt.Fprintf(&b, "DELIMITER ;;\n%s ;;\nDELIMITER ;\n", sc["sql original statement"])
	}
	for _, v := range newM.Views {
		sc := showCreateTest(t, conn, "SHOW CREATE VIEW "+ident.Quote(v))
		fmt.Fprintf(&b, "\n--\n-- Final view structure for view %s\n--\n\n%s;\n", ident.Quote(v), sc["create view"])
	}
	b.WriteString("/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n")
	b.WriteString("/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n")

	rows, err := os.ReadFile(chunk.PathFor(full))
	require.NoError(t, err)
	m := *newM
	rd := *newM.RowDigests
	m.RowDigests = &rd
	sum := sha256.Sum256(baseBytes)
	m.Delta = &manifest.Delta{
		Base: manifest.Base{Archive: filepath.Base(base), Manifest: hex.EncodeToString(sum[:]), Created: baseM.Created,
			SQLXXH3: baseM.SQL.XXH3, Database: baseM.Database},
		Tables: append(append(drops, whole...), byRows...),
		Quiet:  true,
	}
	d := &handDelta{path: filepath.Join(dir, name), sql: b.Bytes(), m: &m, changes: cb.Bytes(), rows: rows}
	d.write(t)
	return d
}

// write stores the delta: the archive (the stream and its completion
// marker, through the codec its name says), its changes and row digests
// files, and its manifest, which it makes record them.
func (d *handDelta) write(t *testing.T) {
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
func (d *handDelta) copyTo(path string) *handDelta {
	m := *d.m
	rd := *d.m.RowDigests
	delta := *d.m.Delta
	delta.Tables = append([]manifest.DeltaTable{}, delta.Tables...)
	m.RowDigests, m.Delta = &rd, &delta
	return &handDelta{path: path, sql: d.sql, m: &m, changes: d.changes, rows: d.rows}
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
