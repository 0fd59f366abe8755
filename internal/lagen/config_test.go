package lagen

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{}, ""},
		{"1GiB", Config{Size: 1 << 30, Seed: 3, Parallel: 2}, ""},
		{"too small", Config{Size: 1000}, "size"},
		{"too big", Config{Size: 1 << 50}, "size"},
		{"parallel", Config{Parallel: -1}, "parallel"},
		{"batch", Config{BatchBytes: 10}, "batch"},
		{"method", Config{Method: "copy"}, "method"},
		{"load data", Config{Method: MethodLoadData}, ""},
		{"insert", Config{Method: MethodInsert}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.WithDefaults().Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate(%+v) = %v; want error containing %q", tt.cfg, err, tt.wantErr)
			}
		})
	}
	if d := (Config{}).WithDefaults(); d.Size != DefaultSize || d.Seed != DefaultSeed || d.Parallel != DefaultParallel || d.BatchBytes != DefaultBatchBytes {
		t.Errorf("WithDefaults() = %+v; want every default", d)
	}
}

func TestIDsAreUniqueHex(t *testing.T) {
	n := newIDs(1, "test")
	seen := make(map[string]bool, 1<<20)
	for i := int64(0); i < 1<<20; i++ {
		id := n.id(i)
		if len(id) != 8 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id(%d) = %q; want 8 hex digits", i, id)
		}
		if seen[id] {
			t.Fatalf("id(%d) = %q repeats an earlier id", i, id)
		}
		seen[id] = true
	}
	if newIDs(1, "a").id(0) == newIDs(1, "b").id(0) || newIDs(1, "a").id(0) == newIDs(2, "a").id(0) {
		t.Errorf("namespaces or seeds do not change ids")
	}
}

func TestValueFormatting(t *testing.T) {
	tests := []struct {
		name string
		put  func(w *rows)
		want string
	}{
		{"zero date", func(w *rows) { w.datetime(0) }, "('0000-00-00 00:00:00')"},
		{"datetime", func(w *rows) { w.datetime(epochStart) }, "('2019-01-01 00:00:00')"},
		{"null datetime", func(w *rows) { w.datetimeN(5, true) }, "(NULL)"},
		{"decimal", func(w *rows) { w.decimal(-123405, 4) }, "(-12.3405)"},
		{"decimal small", func(w *rows) { w.decimal(7, 2) }, "(0.07)"},
		{"decimal scale 0", func(w *rows) { w.decimal(42, 0) }, "(42)"},
		{"string", func(w *rows) { w.str("a'b\\c\n") }, `('a\'b\\c\n')`},
		{"blob", func(w *rows) { w.bytes([]byte{0, 'x', 0x1a}) }, `(_binary'\0x\Z')`},
		{"null blob", func(w *rows) { w.bytes(nil) }, "(NULL)"},
		{"several", func(w *rows) { w.int(-1); w.uint(1 << 63); w.null() }, "(-1,9223372036854775808,NULL)"},
	}
	for _, tt := range tests {
		var w rows
		w.begin()
		tt.put(&w)
		w.end()
		if got := string(w.buf); got != tt.want {
			t.Errorf("%s: row = %s; want %s", tt.name, got, tt.want)
		}
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 2, "ab"},
		{"žluťoučký", 4, "žluť"},
		{"日本語", 1, "日"},
		{"", 0, ""},
	}
	for _, tt := range tests {
		if got := clip(tt.in, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q; want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// No utf8 (3-byte) column may receive a 4-byte character: only the emoji
// list has them, and it goes only into utf8mb4 columns.
func TestPhrasesFitUTF8mb3(t *testing.T) {
	lists := [][]string{czech, german, japanese, english, firstNames, lastNames, companies, cities, pages, titles, userAgents}
	for _, l := range lists {
		for _, s := range l {
			for _, r := range s {
				if r > 0xFFFF {
					t.Errorf("phrase %q has %U, which utf8 (3-byte) cannot store", s, r)
				}
			}
		}
	}
}
