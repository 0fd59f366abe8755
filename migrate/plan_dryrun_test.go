package migrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestDryRun(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE qu_la_messages (id INT PRIMARY KEY, body LONGTEXT)",
		"INSERT INTO qu_la_messages SELECT seq, REPEAT('lorem ipsum ', 200) FROM seq_1_to_2000")
	cfg := Config{Side: SourceSide, OutputDir: t.TempDir(), Connection: Connection{DSNEnv: "DSN"}, Skip: []string{StepPush}}
	p, err := NewPlan(cfg)
	require.NoError(t, err, "NewPlan of a valid config")
	d, err := p.DryRun(context.Background(), RunOptions{Getenv: envOf(map[string]string{"DSN": dsnOf(db)})})
	if err != nil {
		t.Fatalf("DryRun = %v", err)
	}
	if d.JournalExists || len(d.Steps) != 7 {
		t.Fatalf("DryRun = %+v; want 7 steps and no journal", d)
	}
	dumpStep := d.Steps[4]
	if dumpStep.Name != StepDump || dumpStep.EstimateSeconds < 0 || !strings.Contains(dumpStep.Basis, "MB/s") {
		t.Errorf("dump step = %+v; want an estimate at a stated rate", dumpStep)
	}
	if d.Steps[6].Status != Skipped {
		t.Errorf("push status = %s; want skipped by the config", d.Steps[6].Status)
	}
	if !strings.Contains(d.Basis, "KiB") && !strings.Contains(d.Basis, "MiB") {
		t.Errorf("basis = %q; want the size it rests on", d.Basis)
	}
	if _, err := os.Stat(JournalPath(cfg)); !os.IsNotExist(err) {
		t.Errorf("DryRun wrote a journal: %v", err)
	}

	cloud := Config{Side: CloudSide, OutputDir: t.TempDir(), Connection: Connection{DSN: "u@/x"}}
	cp, _ := NewPlan(cloud)
	d, err = cp.DryRun(context.Background(), RunOptions{})
	if err != nil || !strings.Contains(d.Steps[2].Basis, "size unknown") {
		t.Errorf("cloud DryRun without a manifest = %+v, %v; want import's size unknown", d, err)
	}
}

// The dry run lists what would make the run fail early: a database it
// cannot reach or that does not exist, an output folder it cannot create,
// an archive name of no known format.
func TestDryRunBlockers(t *testing.T) {
	db := mysqltest.New(t)
	good := db.Config()
	missing := db.Config()
	missing.DBName = db.Name + "_missing"
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o600), "writing the file %s", file)
	tests := []struct {
		name string
		cfg  func(c *Config)
		want []string // substrings, one per blocker; nil: none
	}{
		{"source fine", func(c *Config) {}, nil},
		{"cloud fine", func(c *Config) { c.Side = CloudSide }, nil},
		{"output folder to create", func(c *Config) { c.OutputDir = filepath.Join(c.OutputDir, "new", "deeper") }, nil},
		{"cloud database missing", func(c *Config) { c.Side = CloudSide; c.Connection.DSN = missing.FormatDSN() },
			[]string{"cannot connect to the target database (it must exist: the import loads into it): database \"" + missing.DBName + "\" does not exist"}},
		{"source unreachable", func(c *Config) { c.Connection.DSN = "root@unix(/nonexistent/mysqld.sock)/x" },
			[]string{"cannot connect to the source database: socket /nonexistent/mysqld.sock does not exist"}},
		{"output folder under a file", func(c *Config) { c.OutputDir = filepath.Join(file, "out") },
			[]string{"output_dir " + filepath.Join(file, "out") + " cannot be created: " + file + " is not a folder"}},
		{"output folder is a file", func(c *Config) { c.OutputDir = file }, []string{"output_dir " + file + " is not a folder"}},
		{"unknown extension", func(c *Config) { c.Archive = "la.sql.bz2" }, []string{`archive la.sql.bz2: unknown extension ".bz2"`}},
		{"unknown extension, dump skipped", func(c *Config) { c.Archive = "la.sql.bz2"; c.Skip = []string{StepDump} }, nil},
		{"cloud ignores the extension", func(c *Config) { c.Side = CloudSide; c.Archive = "la.sql.bz2" }, nil},
		{"push folder missing", func(c *Config) { c.Transfer.URL = filepath.Join(t.TempDir(), "nowhere") + "/" },
			[]string{"does not exist: check transfer.url, or set \"mkdir\": true"}},
		{"push folder missing, mkdir", func(c *Config) {
			c.Transfer.URL, c.Transfer.Mkdir = filepath.Join(t.TempDir(), "nowhere")+"/", true
		}, nil},
		{"push folder there", func(c *Config) { c.Transfer.URL = t.TempDir() + "/" }, nil},
		{"pull: archive not there", func(c *Config) { c.Side = CloudSide; c.Transfer.URL = t.TempDir() + "/" },
			[]string{"dump.sql.gz is not there yet"}},
		{"adjust parameter missing", func(c *Config) { c.Side = CloudSide; c.Adjust.Rules = "../examples/adjust-rules.json" },
			[]string{`parameter domain of the rules has no value`}},
		{"adjust parameter given", func(c *Config) {
			c.Side = CloudSide
			c.Adjust.Rules, c.Adjust.Params = "../examples/adjust-rules.json", map[string]string{"domain": "x.example.com"}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Side: SourceSide, OutputDir: t.TempDir(), Connection: Connection{DSN: good.FormatDSN()},
				Skip: []string{StepCheck}}
			tt.cfg(&cfg)
			if cfg.Side == CloudSide {
				cfg.Skip = nil
			}
			p, err := NewPlan(cfg)
			require.NoError(t, err, "NewPlan of a valid config")
			d, err := p.DryRun(context.Background(), RunOptions{DefaultUser: "root"})
			if err != nil {
				t.Fatalf("DryRun = %v", err)
			}
			if len(d.Blockers) != len(tt.want) {
				t.Fatalf("DryRun blockers = %q; want %d: %q", d.Blockers, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(d.Blockers[i], w) {
					t.Errorf("blocker %d = %q; want it to contain %q", i, d.Blockers[i], w)
				}
			}
			if _, err := os.Stat(JournalPath(cfg)); err == nil {
				t.Errorf("DryRun wrote a journal")
			}
		})
	}
}

func TestArchiveNameKnown(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"dump.sql.gz", true}, {"dump.sql.zst", true}, {"dump.sql.lz4", true}, {"dump.sql", true},
		{"dump.sql.zst.age", true}, {"DUMP.SQL.GZ", true}, {"", true},
		{"dump.sql.bz2", false}, {"dump.sql.xz", false}, {"dump", false}, {"dump.age", false},
		{"dump.gz", true}, {"dump.sql.zstd", true},
	} {
		if err := archiveNameKnown(tt.name, ""); (err == nil) != tt.ok {
			t.Errorf("archiveNameKnown(%q) = %v; want ok %v", tt.name, err, tt.ok)
		}
	}
	if err := archiveNameKnown("dump.bin", "zstd"); err != nil {
		t.Errorf("archiveNameKnown(dump.bin, zstd) = %v; want nil (the compression is named)", err)
	}
}
