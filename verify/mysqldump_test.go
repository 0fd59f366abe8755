package verify

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// mysqldump runs the real mysqldump the way the documented procedure does.
func mysqldump(t *testing.T, db *mysqltest.DB, ignore ...string) []byte {
	t.Helper()
	bin := mysqltest.Tool(t, "mysqldump", "mariadb-dump")
	cfg := db.Config()
	args := []string{"--no-defaults", "--user=" + cfg.User, "--single-transaction", "--skip-add-drop-table",
		"--max_allowed_packet=1G", "--hex-blob", "--no-create-db", "--net_buffer_length=16M"}
	if cfg.Net == "unix" {
		args = append(args, "--socket="+cfg.Addr)
	} else {
		host, port, _ := net.SplitHostPort(cfg.Addr)
		args = append(args, "--protocol=tcp", "--host="+host, "--port="+port)
	}
	for _, n := range ignore {
		args = append(args, "--ignore-table="+db.Name+"."+n)
	}
	cmd := exec.Command(bin, append(args, db.Name)...)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+cfg.Passwd)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mysqldump: %v: %s", err, stderr.String())
	}
	return out
}

func TestRealMysqldump(t *testing.T) {
	db := mysqltest.New(t)
	seed(t, db)
	sql := mysqldump(t, db, "qu_g_logs")
	m := manifestOf(t, db)
	dir := t.TempDir()

	t.Run("plain mysqldump file", func(t *testing.T) {
		path := filepath.Join(dir, "plain.sql.gz")
		os.WriteFile(path, compress(t, sql, codec.Gzip, ""), 0o644)
		rep, err := File(context.Background(), path, Options{})
		if err != nil {
			t.Fatalf("File(mysqldump | gzip) = %v; want nil", err)
		}
		if rep.Format != FormatMysqldump || rep.Evidence != EvidenceWeak {
			t.Errorf("File(mysqldump | gzip) = %s, %s; want mysqldump, weak", rep.Format, rep.Evidence)
		}
		rows := map[string]int64{}
		for _, ts := range rep.Tables {
			rows[ts.Name] = ts.RowsApprox
		}
		want := map[string]int64{"qu_g_filecontents": 3, "qu_g_settings": 2, "qu_la_conversations": 3}
		for name, n := range want {
			if rows[name] != n {
				t.Errorf("File(mysqldump) rows of %s = %d; want %d (all: %v)", name, rows[name], n, rows)
			}
		}
	})

	t.Run("mysqldump cut at a statement boundary", func(t *testing.T) {
		i := bytes.Index(sql, []byte("INSERT INTO `qu_g_settings`"))
		cut := sql[:i+bytes.Index(sql[i:], []byte(";\n"))+2]
		_, err := Archive(context.Background(), bytes.NewReader(compress(t, cut, codec.Gzip, "")), Options{})
		var se *StreamError
		if !errors.Is(err, ErrIncomplete) || !errors.As(err, &se) || se.Table != "qu_g_settings" {
			t.Errorf("Archive(cut mysqldump) = %v; want ErrIncomplete in table qu_g_settings", err)
		}
	})

	t.Run("lamigrate archive with manifest, then the database", func(t *testing.T) {
		path := filepath.Join(dir, "dump.sql.zst")
		archive := compress(t, withMarker(sql), codec.Zstd, "")
		os.WriteFile(path, archive, 0o644)
		m.SQL = manifest.Stream{Bytes: int64(len(sql)), XXH3: xxh(sql)}
		m.File = manifest.File{Name: "dump.sql.zst", Size: int64(len(archive)), SHA256: sha(archive)}
		err := manifest.Write(manifest.PathFor(path), m)
		require.NoError(t, err, "manifest.Write")
		rep, err := File(context.Background(), path, Options{})
		if err != nil || rep.Evidence != EvidenceStrong {
			t.Fatalf("File(lamigrate archive) = %v, %s; want nil, strong", err, rep.Evidence)
		}
		for _, ts := range rep.Tables {
			if ts.ManifestRows != ts.RowsApprox {
				t.Errorf("File table %s: manifest rows %d, counted %d; want equal", ts.Name, ts.ManifestRows, ts.RowsApprox)
			}
		}
		// Load the dump into a fresh database with the stock client and
		// check it against the manifest.
		target := mysqltest.New(t)
		load(t, target, sql)
		if _, err := Database(context.Background(), target.DB, m, Options{}); err != nil {
			t.Errorf("Database(mysqldump loaded by mysql) = %v; want nil", err)
		}
	})
}

// load feeds sql to the stock mysql client.
func load(t *testing.T, db *mysqltest.DB, sql []byte) {
	t.Helper()
	bin := mysqltest.Tool(t, "mysql", "mariadb")
	cfg := db.Config()
	args := []string{"--no-defaults", "--user=" + cfg.User}
	if cfg.Net == "unix" {
		args = append(args, "--socket="+cfg.Addr)
	} else {
		host, port, _ := net.SplitHostPort(cfg.Addr)
		args = append(args, "--protocol=tcp", "--host="+host, "--port="+port)
	}
	cmd := exec.Command(bin, append(args, db.Name)...)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+cfg.Passwd)
	cmd.Stdin = bytes.NewReader(sql)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mysql < dump: %v: %s", err, out)
	}
}
