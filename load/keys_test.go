package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestDeferKeys(t *testing.T) {
	const opts = ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci"
	create := func(lines ...string) string {
		return "CREATE TABLE `t` (\n" + strings.Join(lines, ",\n") + "\n" + opts
	}
	tests := []struct {
		name     string
		in       string
		stripped string // "": nothing deferred
		alter    string
	}{
		{"plain keys last",
			create("  `id` int(11) NOT NULL AUTO_INCREMENT", "  `a` int(11) DEFAULT NULL", "  `b` varchar(200) DEFAULT NULL",
				"  PRIMARY KEY (`id`)", "  KEY `a` (`a`)", "  KEY `b` (`b`(10)) COMMENT 'x, ''y''; z'"),
			create("  `id` int(11) NOT NULL AUTO_INCREMENT", "  `a` int(11) DEFAULT NULL", "  `b` varchar(200) DEFAULT NULL",
				"  PRIMARY KEY (`id`)"),
			"ALTER TABLE `t` ADD KEY `a` (`a`), ADD KEY `b` (`b`(10)) COMMENT 'x, ''y''; z'"},
		{"unique and fulltext stay",
			create("  `id` int(11) NOT NULL", "  `c` varchar(20) NOT NULL", "  `x` text",
				"  PRIMARY KEY (`id`)", "  UNIQUE KEY `c` (`c`)", "  KEY `c2` (`c`,`id`)", "  FULLTEXT KEY `x` (`x`)"),
			create("  `id` int(11) NOT NULL", "  `c` varchar(20) NOT NULL", "  `x` text",
				"  PRIMARY KEY (`id`)", "  UNIQUE KEY `c` (`c`)", "  FULLTEXT KEY `x` (`x`)"),
			"ALTER TABLE `t` ADD KEY `c2` (`c`,`id`)"},
		{"keys up to the last spatial one stay",
			create("  `id` int(11) NOT NULL", "  `g` point NOT NULL", "  PRIMARY KEY (`id`)",
				"  KEY `a` (`id`)", "  SPATIAL KEY `g` (`g`)", "  KEY `b` (`id`,`g`(5))"),
			create("  `id` int(11) NOT NULL", "  `g` point NOT NULL", "  PRIMARY KEY (`id`)",
				"  KEY `a` (`id`)", "  SPATIAL KEY `g` (`g`)"),
			"ALTER TABLE `t` ADD KEY `b` (`id`,`g`(5))"},
		{"the AUTO_INCREMENT column's key stays",
			create("  `id` char(8) NOT NULL", "  `n` int(11) NOT NULL AUTO_INCREMENT", "  PRIMARY KEY (`id`)",
				"  KEY `z` (`id`)", "  KEY `n` (`n`)", "  KEY `nz` (`n`,`id`)"),
			create("  `id` char(8) NOT NULL", "  `n` int(11) NOT NULL AUTO_INCREMENT", "  PRIMARY KEY (`id`)",
				"  KEY `z` (`id`)", "  KEY `n` (`n`)"),
			"ALTER TABLE `t` ADD KEY `nz` (`n`,`id`)"},
		{"a quoted name and a check constraint",
			"CREATE TABLE `a ``b`` ,c` (\n  `x` int(11) DEFAULT NULL COMMENT 'KEY `q` (x)',\n  KEY `k``1` (`x`),\n  CONSTRAINT `CONSTRAINT_1` CHECK (`x` > 0)\n" + opts,
			"CREATE TABLE `a ``b`` ,c` (\n  `x` int(11) DEFAULT NULL COMMENT 'KEY `q` (x)',\n  CONSTRAINT `CONSTRAINT_1` CHECK (`x` > 0)\n" + opts,
			"ALTER TABLE `a ``b`` ,c` ADD KEY `k``1` (`x`)"},
		{"no plain keys", create("  `id` int(11) NOT NULL", "  PRIMARY KEY (`id`)"), "", ""},
		{"foreign key",
			create("  `id` int(11) NOT NULL", "  `p` int(11) DEFAULT NULL", "  PRIMARY KEY (`id`)", "  KEY `p` (`p`)",
				"  CONSTRAINT `fk` FOREIGN KEY (`p`) REFERENCES `parent` (`id`)"), "", ""},
		{"MyISAM", "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`)\n) ENGINE=MyISAM", "", ""},
		{"partitioned", "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`)\n) ENGINE=InnoDB\n PARTITION BY HASH (`a`)\nPARTITIONS 2", "", ""},
		{"system versioned", "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`)\n) ENGINE=InnoDB WITH SYSTEM VERSIONING", "", ""},
		{"CREATE … SELECT", "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`)\n) ENGINE=InnoDB SELECT 1 AS a", "", ""},
		{"not one definition per line", "CREATE TABLE `t` (`a` int, KEY `a` (`a`)) ENGINE=InnoDB", "", ""},
		{"a string over two lines", "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL COMMENT 'x\n  KEY `a` (`a`)',\n  KEY `a` (`a`)\n) ENGINE=InnoDB", "", ""},
		{"IF NOT EXISTS", "CREATE TABLE IF NOT EXISTS `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`)\n) ENGINE=InnoDB", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stripped, keys, ok := deferKeys([]byte(tt.in))
			if !ok {
				if tt.stripped != "" {
					t.Fatalf("deferKeys did not defer; want %q", tt.stripped)
				}
				return
			}
			if tt.stripped == "" {
				t.Fatalf("deferKeys deferred %q; want nothing deferred", keys.defs)
			}
			if string(stripped) != tt.stripped {
				t.Errorf("stripped:\n got %q\nwant %q", stripped, tt.stripped)
			}
			if got := keys.alter(nil); got != tt.alter {
				t.Errorf("alter:\n got %q\nwant %q", got, tt.alter)
			}
			if got := keys.alter(map[string]bool{}); got != tt.alter {
				t.Errorf("alter with no key there:\n got %q\nwant %q", got, tt.alter)
			}
		})
	}
}

// keysSource makes tables whose plain keys the importer defers, or must
// leave alone.
func keysSource(t testing.TB, db *mysqltest.DB) {
	t.Helper()
	db.MustExec(t,
		"CREATE TABLE multi (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, a INT, b VARCHAR(200), c VARCHAR(100), d DATETIME, "+
			"KEY a (a), KEY b_prefix (b(10)), KEY ad (a, d) COMMENT 'two; columns, ''quoted''', KEY c (c), KEY d (d) COMMENT 'дата') ENGINE=InnoDB",
		"INSERT INTO multi (a, b, c, d) SELECT seq % 97, MD5(seq), IF(seq % 5 = 0, NULL, SHA1(seq)), '2020-01-01' + INTERVAL seq MINUTE FROM seq_1_to_6000",
		"CREATE TABLE uniq (id CHAR(8) NOT NULL, code VARCHAR(20) NOT NULL, n INT NULL, x INT, PRIMARY KEY (id), KEY x (x), UNIQUE KEY code (code), UNIQUE KEY n (n), KEY xn (x, n)) ENGINE=InnoDB",
		"INSERT INTO uniq SELECT LPAD(seq, 8, '0'), CONCAT('c', seq), IF(seq % 3 = 0, NULL, seq), seq % 7 FROM seq_1_to_500",
		"CREATE TABLE ft (id INT PRIMARY KEY, title VARCHAR(100), body TEXT, KEY title (title), FULLTEXT KEY body (body)) ENGINE=InnoDB",
		"INSERT INTO ft SELECT seq, CONCAT('title ', seq), CONCAT('the body of ', seq, ' words words') FROM seq_1_to_300",
		"CREATE TABLE parent (id INT PRIMARY KEY, v INT, KEY v (v)) ENGINE=InnoDB",
		"INSERT INTO parent SELECT seq, seq % 10 FROM seq_1_to_50",
		// The server adds a key for the foreign key (parent_id): left alone.
		"CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, w INT, KEY w (w), CONSTRAINT fk FOREIGN KEY (parent_id) REFERENCES parent (id)) ENGINE=InnoDB",
		"INSERT INTO child SELECT seq, seq % 50 + 1, seq FROM seq_1_to_200",
		"CREATE TABLE nokeys (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB",
		"INSERT INTO nokeys VALUES (1, 'a'), (2, 'b')",
		"CREATE TABLE empty_keys (id INT PRIMARY KEY, a INT, b INT, KEY a (a), KEY b (b)) ENGINE=InnoDB",
		// n needs its key inline; z comes before it, so it stays too.
		"CREATE TABLE autokey (id CHAR(8) NOT NULL PRIMARY KEY, n INT NOT NULL AUTO_INCREMENT, z INT, KEY z (z), KEY n (n), KEY zn (z, n)) ENGINE=InnoDB",
		"INSERT INTO autokey (id, z) SELECT LPAD(seq, 8, '0'), seq % 13 FROM seq_1_to_300",
		"CREATE TABLE geo (id INT PRIMARY KEY, a INT, g POINT NOT NULL, b INT, KEY a (a), SPATIAL KEY g (g), KEY b (b)) ENGINE=InnoDB",
		"INSERT INTO geo SELECT seq, seq % 3, POINT(seq, seq), seq % 5 FROM seq_1_to_100",
		// Non-ASCII names. (A latin1 dump names the table in latin1 in its
		// INSERTs, in UTF-8 in its CREATE: two tables to the importer.)
		"CREATE TABLE `clé ``x``` (id INT PRIMARY KEY, `prénom` VARCHAR(50), KEY `prénom_k` (`prénom`) COMMENT 'комментарий ключа') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
		"INSERT INTO `clé ``x``` VALUES (1, 'Žluťoučký'), (2, 'kůň')",
		"CREATE TABLE myisam_k (id INT PRIMARY KEY, a INT, KEY a (a)) ENGINE=MyISAM",
		"INSERT INTO myisam_k VALUES (1, 1), (2, 2)",
		"CREATE TABLE trig (id INT PRIMARY KEY, a INT, KEY a (a)) ENGINE=InnoDB",
		"INSERT INTO trig VALUES (1, 1), (2, 2)",
		"CREATE TRIGGER trig_bi BEFORE INSERT ON trig FOR EACH ROW SET NEW.a = NEW.a + 1",
	)
}

// deferred are keysSource's tables whose keys are added after the rows.
var deferred = []string{"autokey", "clé `x`", "ft", "geo", "multi", "parent", "trig", "uniq"}

// recordKeys collects the tables whose deferred keys are added: record is
// the afterKeys hook, got returns the tables collected since it last ran.
func recordKeys() (record func(table string), got func() []string) {
	var mu sync.Mutex
	var tables []string
	record = func(table string) {
		mu.Lock()
		tables = append(tables, table)
		mu.Unlock()
	}
	return record, func() []string {
		mu.Lock()
		defer mu.Unlock()
		s := append([]string(nil), tables...)
		sort.Strings(s)
		tables = nil
		return s
	}
}

func TestLoadDeferredKeysMatchStockClient(t *testing.T) {
	t.Parallel() // its hooks are its own (withHooks)
	src := mysqltest.New(t)
	keysSource(t, src)
	tests := []struct {
		name  string
		extra []string
		cfg   Config
		want  []string
	}{
		{"documented", nil, Config{}, deferred},
		{"small inserts", []string{"--net_buffer_length=16k"}, Config{}, deferred},
		{"one thread, spooled", []string{"--net_buffer_length=16k"}, Config{Threads: 1, MemoryReadAhead: 1 << 10}, deferred},
		// The keys are added in the CREATE's session (utf8mb4), not the
		// stream's (latin1): multi's key comment is Cyrillic.
		{"latin1 client", []string{"--default-character-set=latin1"}, Config{}, []string{"autokey", "ft", "geo", "multi", "parent", "trig", "uniq"}},
		{"add-drop-table, no-autocommit, skip-disable-keys", []string{"--add-drop-table", "--no-autocommit", "--skip-disable-keys"}, Config{}, deferred},
		{"skip-triggers", []string{"--skip-triggers"}, Config{}, deferred},
		{"keep indexes", nil, Config{KeepIndexes: true}, nil},
	}
	record, got := recordKeys()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dump := mysqldump(t, src, tt.extra...)
			want := mysqltest.New(t)
			stockLoad(t, want, dump)
			target := mysqltest.New(t)
			cfg := tt.cfg
			if cfg.Threads == 0 {
				cfg.Threads = 2
			}
			got()
			if _, err := Load(context.Background(), target.Config(), bytes.NewReader(dump), cfg, withHooks(hooks{afterKeys: record})); err != nil {
				t.Fatalf("Load: %v", err)
			}
			if g := got(); fmt.Sprint(g) != fmt.Sprint(tt.want) {
				t.Errorf("keys added after the rows of %q; want %q", g, tt.want)
			}
			compare(t, snapshot(t, target), snapshot(t, want))
		})
	}

	t.Run("not a dump", func(t *testing.T) {
		// Without mysqldump's first line the stream is not known to be a
		// dump: tables are created as written.
		dump := mysqldump(t, src)
		dump = dump[bytes.Index(dump, []byte("\n/*!40101 SET @OLD_CHARACTER_SET_CLIENT"))+1:]
		want := mysqltest.New(t)
		stockLoad(t, want, dump)
		target := mysqltest.New(t)
		got()
		if _, err := Load(context.Background(), target.Config(), bytes.NewReader(dump), Config{Threads: 2}, withHooks(hooks{afterKeys: record})); err != nil {
			t.Fatalf("Load: %v", err)
		}
		if g := got(); len(g) != 0 {
			t.Errorf("keys deferred for %q in a stream not known to be a dump", g)
		}
		compare(t, snapshot(t, target), snapshot(t, want))
	})
}

// TestLoadResumeDeferredKeys interrupts imports between a table's rows and
// the ALTER TABLE adding its keys, and after it: the import run again ends
// with every key, once, and the stock client's definitions.
func TestLoadResumeDeferredKeys(t *testing.T) {
	t.Parallel() // its hooks are its own (withHooks)
	src := mysqltest.New(t)
	keysSource(t, src)
	dump := mysqldump(t, src, "--net_buffer_length=16k")
	want := mysqltest.New(t)
	stockLoad(t, want, dump)
	wantSnap := snapshot(t, want)

	tests := []struct {
		name string
		// after the ALTER TABLE ran (else before)
		after bool
		// between the runs, on the target
		between func(t *testing.T, db *mysqltest.DB)
		// run on the target during the resumed run, before its ALTER TABLE
		before string
		cfg    Config // of the resumed run
		// tables whose keys the resumed run adds
		want []string
	}{
		{name: "before the ALTER", want: []string{"multi", "parent", "trig", "uniq"}},
		{name: "before the ALTER, resumed keeping indexes", cfg: Config{KeepIndexes: true}, want: []string{"multi"}},
		{name: "after the ALTER", after: true, want: []string{"parent", "trig", "uniq"}},
		{name: "after the ALTER, a key lost", after: true,
			between: func(t *testing.T, db *mysqltest.DB) { db.MustExec(t, "ALTER TABLE multi DROP KEY c") },
			want:    []string{"multi", "parent", "trig", "uniq"}},
		{name: "the interrupted run's ALTER ends meanwhile",
			before: "ALTER TABLE multi ADD KEY a (a), ADD KEY b_prefix (b(10)), ADD KEY ad (a, d) COMMENT 'two; columns, ''quoted''', ADD KEY c (c), ADD KEY d (d) COMMENT 'дата'",
			want:   []string{"parent", "trig", "uniq"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := mysqltest.New(t)
			ctx, cancel := context.WithCancel(context.Background())
			// One thread: the tables after multi are not started.
			hook := func(table string) {
				if table == "multi" {
					cancel()
				}
			}
			h := hooks{beforeKeys: hook}
			if tt.after {
				h = hooks{afterKeys: hook}
			}
			_, err := Load(ctx, target.Config(), bytes.NewReader(dump), Config{Threads: 1}, withHooks(h))
			cancel()
			record, got := recordKeys()
			h = hooks{afterKeys: record}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted Load = %v; want context.Canceled", err)
			}
			var rows, keys int
			target.QueryRow("SELECT COUNT(*) FROM multi").Scan(&rows)
			target.QueryRow("SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'multi'").Scan(&keys)
			if wantKeys := map[bool]int{false: 1, true: 6}[tt.after]; rows != 6000 || keys != wantKeys {
				t.Fatalf("interrupted: multi has %d rows and %d keys; want 6000 rows and %d keys", rows, keys, wantKeys)
			}
			if tt.between != nil {
				tt.between(t, target)
			}
			if tt.before != "" {
				var once sync.Once
				h.beforeKeys = func(table string) {
					if table == "multi" {
						once.Do(func() {
							if _, err := target.Exec(tt.before); err != nil {
								t.Errorf("%s: %v", tt.before, err)
							}
						})
					}
				}
			}
			cfg := tt.cfg
			cfg.Threads = 2
			res, err := Load(context.Background(), target.Config(), bytes.NewReader(dump), cfg, withHooks(h))
			if err != nil {
				t.Fatalf("resumed Load: %v", err)
			}
			if !res.Resumed {
				t.Errorf("resumed Load: Resumed = false")
			}
			if g := got(); fmt.Sprint(g) != fmt.Sprint(tt.want) {
				t.Errorf("the resumed run added the keys of %q; want %q", g, tt.want)
			}
			compare(t, snapshot(t, target), wantSnap)
		})
	}
}

func TestDeferredKeysAlterMissing(t *testing.T) {
	_, k, ok := deferKeys([]byte("CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`),\n  KEY `B` (`a`,`a`),\n  KEY `c` (`a`) COMMENT 'c'\n) ENGINE=InnoDB"))
	if !ok {
		t.Fatal("deferKeys did not defer")
	}
	tests := []struct {
		have []string
		want string
	}{
		{nil, "ALTER TABLE `t` ADD KEY `a` (`a`), ADD KEY `B` (`a`,`a`), ADD KEY `c` (`a`) COMMENT 'c'"},
		{[]string{"primary", "a", "b", "c"}, ""},
		{[]string{"a", "b"}, "ALTER TABLE `t` ADD KEY `c` (`a`) COMMENT 'c'"},
		{[]string{"a", "c"}, "ALTER TABLE `t` DROP KEY `c`, ADD KEY `B` (`a`,`a`), ADD KEY `c` (`a`) COMMENT 'c'"},
		{[]string{"b"}, "ALTER TABLE `t` DROP KEY `B`, ADD KEY `a` (`a`), ADD KEY `B` (`a`,`a`), ADD KEY `c` (`a`) COMMENT 'c'"},
	}
	for _, tt := range tests {
		have := map[string]bool{}
		for _, n := range tt.have {
			have[n] = true
		}
		if got := k.alter(have); got != tt.want {
			t.Errorf("alter with %q there:\n got %q\nwant %q", tt.have, got, tt.want)
		}
	}
}
