package migrate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := func() Config {
		return Config{Side: SourceSide, OutputDir: "/tmp/out", Connection: Connection{DSN: "u@unix(/run/mysqld/mysqld.sock)/la"}}
	}
	for _, tt := range []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"cloud", func(c *Config) { c.Side = CloudSide }, ""},
		{"no side", func(c *Config) { c.Side = "" }, "side is missing"},
		{"bad side", func(c *Config) { c.Side = "both" }, `side "both"`},
		{"no output", func(c *Config) { c.OutputDir = "" }, "output_dir is missing"},
		{"no connection", func(c *Config) { c.Connection = Connection{} }, "connection: give"},
		{"password in dsn", func(c *Config) { c.Connection.DSN = "u:secret@tcp(h:3306)/la" }, "holds a password"},
		{"bad dsn", func(c *Config) { c.Connection.DSN = "u@tcp(h:3306" }, "not a go-sql-driver DSN"},
		{"secret instead of env name", func(c *Config) { c.Connection.PasswordEnv = "hunter2!" }, "not an environment variable name"},
		{"password in url", func(c *Config) { c.Transfer.URL = "sftp://u:pw@h/in/" }, "transfer.url holds a password"},
		{"scp url", func(c *Config) { c.Transfer.URL = "scp://h/in/" }, "only sftp:// URLs and local folders"},
		{"sftp url names a file", func(c *Config) { c.Transfer.URL = "sftp://u@h/in/dump.sql.gz" }, "must name a folder (end it with /)"},
		{"scp-style url", func(c *Config) { c.Transfer.URL = "u@h:/in/" }, "write it as sftp://u@h/in/"},
		{"archive path", func(c *Config) { c.Archive = "../x.sql.gz" }, "must be a file name"},
		{"compress", func(c *Config) { c.Dump.Compress = "bzip2" }, `dump.compress "bzip2"`},
		{"negative threads", func(c *Config) { c.Import.Threads = -1 }, "import.threads"},
		{"unknown skip", func(c *Config) { c.Skip = []string{"import"} }, `"import" is not a step of the source side`},
		{"negative duration", func(c *Config) { c.Drain.Timeout = -1 }, "negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v; want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "source.json")
	os.WriteFile(path, []byte(`{
		"side": "source", "output_dir": "out", "profile": "profile.json",
		"connection": {"install_dir": "/var/www/liveagent"},
		"transfer": {"url": "sftp://mig@cloud.example.com/in/", "identity": "keys/id_ed25519"},
		"drain": {"timeout": "45m", "interval": 2},
		"isolate": {"cron": {"user": true, "files": []}, "web_server": {}}
	}`), 0o600)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig = %v", err)
	}
	if c.OutputDir != filepath.Join(dir, "out") || c.Profile != filepath.Join(dir, "profile.json") ||
		c.Transfer.Identity != filepath.Join(dir, "keys/id_ed25519") || c.Connection.InstallDir != "/var/www/liveagent" {
		t.Errorf("relative paths not resolved against the config's folder: %+v", c)
	}
	if c.Drain.Timeout.D() != 45*time.Minute || c.Drain.Interval.D() != 2*time.Second {
		t.Errorf("drain = %v/%v; want 45m/2s", c.Drain.Timeout.D(), c.Drain.Interval.D())
	}
	if c.Isolate.Cron == nil || !c.Isolate.Cron.User || c.Isolate.WebServer == nil {
		t.Errorf("isolate options = %+v; want cron and web server set", c.Isolate)
	}
	d := c.WithDefaults()
	if d.Archive != DefaultArchive || d.StatePath() != filepath.Join(dir, "out", DefaultStateFile) || d.RollbackTimeout.D() != DefaultRollbackTimeout {
		t.Errorf("defaults = %q %q %v", d.Archive, d.StatePath(), d.RollbackTimeout.D())
	}
	// The config survives the journal's JSON round trip.
	b, _ := json.Marshal(c)
	back, err := ParseConfig(b)
	if err != nil || back.Drain.Timeout != c.Drain.Timeout || back.Transfer.URL != c.Transfer.URL {
		t.Errorf("round trip = %+v, %v", back, err)
	}

	os.WriteFile(path, []byte(`{"side": "source", "output_dir": "o", "conection": {}}`), 0o600)
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "conection") {
		t.Errorf("LoadConfig with a misspelled field = %v; want it named", err)
	}
	os.WriteFile(path, []byte(`{"side": "source", "output_dir": "o", "connection": {"dsn": "u@/x"}, "drain": {"timeout": "soon"}}`), 0o600)
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "soon") {
		t.Errorf("LoadConfig with a bad duration = %v; want it named", err)
	}
}

func TestCloudStatePath(t *testing.T) {
	c := Config{Side: CloudSide, OutputDir: "/o"}
	if got := c.StatePath(); got != "/o/isolate-state.json" {
		t.Errorf("StatePath() = %s; want the pulled one", got)
	}
	c.Restore.StateFile = "/keep/state.json"
	if got := c.StatePath(); got != "/keep/state.json" {
		t.Errorf("StatePath() with restore.state_file = %s", got)
	}
}
