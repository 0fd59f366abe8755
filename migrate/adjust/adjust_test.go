package adjust

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

var adjustSchema = []string{
	`CREATE TABLE qu_g_settings (settingid INT PRIMARY KEY, name VARCHAR(60), value TEXT, account CHAR(8) NULL)`,
	`INSERT INTO qu_g_settings VALUES (1,'server_name','help.old.com',NULL), (2,'server_name','help.old.com','acc2'),
		(3,'smtp_host','mail.old.com',NULL), (4,'server_name','help.new.com','acc3'), (5,'note',NULL,NULL)`,
	`CREATE TABLE qu_g_files (fileid CHAR(8) NOT NULL, part INT NOT NULL, data BLOB, UNIQUE KEY (fileid, part))`,
	`INSERT INTO qu_g_files VALUES ('f1', 1, x'00ff10'), ('f2', 1, 'text')`,
	`CREATE TABLE nokey (a INT, b INT)`,
	`INSERT INTO nokey VALUES (1, 2)`,
}

const adjustRulesJSON = `{
  "description": "cloud values",
  "params": ["domain", "smtp"],
  "rules": [
    {"name": "server name", "table": "qu_g_settings", "set": {"value": "help.${domain}"}, "where": {"name": "server_name"}},
    {"name": "smtp", "sql": "UPDATE qu_g_settings SET value = ${smtp} WHERE name = 'smtp_host' AND value <> ${smtp}"},
    {"name": "note", "table": "qu_g_settings", "set": {"value": "n/a", "account": null}, "where": {"settingid": 5}},
    {"name": "file", "table": "qu_g_files", "set": {"data": {"base64": "AAEC"}}, "where": {"fileid": "f1"}}
  ]
}`

func settingValues(t *testing.T, db *sql.DB) map[int]string {
	t.Helper()
	rows, err := db.Query("SELECT settingid, COALESCE(value,'<null>') FROM qu_g_settings")
	require.NoError(t, err, "reading qu_g_settings")
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var id int
		var v string
		rows.Scan(&id, &v)
		out[id] = v
	}
	return out
}

func TestAdjustIdempotentDryRunAndUndo(t *testing.T) {
	ctx := context.Background()
	db := mysqltest.New(t)
	db.MustExec(t, adjustSchema...)
	rules, err := ParseRules([]byte(adjustRulesJSON))
	if err != nil {
		t.Fatalf("ParseRules: %v", err)
	}
	params := map[string]string{"domain": "cloud.example", "smtp": "smtp.cloud'; DROP TABLE nokey; --"}
	orig := settingValues(t, db.DB)

	// Dry run: reports the changes, keeps the data.
	dry, err := Apply(ctx, db.DB, rules, Config{DryRun: true, Params: params})
	if err != nil {
		t.Fatalf("Apply(dry run): %v", err)
	}
	if dry.Changed != 6 || len(dry.Record().Changes) != 0 {
		t.Errorf("Apply(dry run) changed %d, record %d changes; want 6 and an empty record", dry.Changed, len(dry.Record().Changes))
	}
	if got := settingValues(t, db.DB); !reflect.DeepEqual(got, orig) {
		t.Errorf("Apply(dry run) changed the data: %v; want %v", got, orig)
	}

	rep, err := Apply(ctx, db.DB, rules, Config{Params: params})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := map[string][3]int64{ // matched, changed, unchanged
		"server name": {3, 3, 0},
		"smtp":        {1, 1, 0},
		"note":        {1, 1, 0},
		"file":        {1, 1, 0},
	}
	for _, r := range rep.Rules {
		if got := [3]int64{r.Matched, r.Changed, r.Unchanged}; got != want[r.Name] {
			t.Errorf("Apply rule %q = matched/changed/unchanged %v; want %v", r.Name, got, want[r.Name])
		}
	}
	got := settingValues(t, db.DB)
	wantVals := map[int]string{1: "help.cloud.example", 2: "help.cloud.example", 3: params["smtp"], 4: "help.cloud.example", 5: "n/a"}
	if !reflect.DeepEqual(got, wantVals) {
		t.Errorf("after Apply settings = %v; want %v", got, wantVals)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM nokey").Scan(&n); err != nil || n != 1 {
		t.Errorf("the parameter's SQL ran: nokey count %d, %v", n, err)
	}
	rec := rep.Record()
	if len(rec.Changes) != 5 || len(rec.Statements) != 1 {
		t.Fatalf("Record() = %d changes, %d statements; want 5 and 1", len(rec.Changes), len(rec.Statements))
	}
	c0 := rec.Changes[0]
	if string(c0.Key["settingid"].Bytes) != "1" || string(c0.Before["value"].Bytes) != "help.old.com" || string(c0.After["value"].Bytes) != "help.cloud.example" {
		t.Errorf("first change = %+v", c0)
	}

	// Round trip through the file, binary values included.
	path := filepath.Join(t.TempDir(), "adjust-record.json")
	require.NoError(t, rec.Write(path), "writing the record %s", path)
	rec2, err := ReadRecord(path)
	if err != nil {
		t.Fatalf("ReadRecord: %v", err)
	}
	if !reflect.DeepEqual(rec2.Changes, rec.Changes) {
		t.Errorf("ReadRecord = %+v; want %+v", rec2.Changes, rec.Changes)
	}

	// Second run: nothing left to change.
	again, err := Apply(ctx, db.DB, rules, Config{Params: params})
	if err != nil {
		t.Fatalf("Apply (again): %v", err)
	}
	if again.Changed != 0 || len(again.Record().Changes) != 0 {
		t.Errorf("Apply (again) changed %d rows; want 0: %+v", again.Changed, again.Rules)
	}

	// Someone edits one row; undo leaves it and restores the others.
	db.MustExec(t, "UPDATE qu_g_settings SET value = 'hand-edited' WHERE settingid = 2")
	dryUndo, err := Undo(ctx, db.DB, rec2, true)
	if err != nil || dryUndo.Restored != 4 {
		t.Fatalf("Undo(dry run) = %+v, %v; want 4 restored", dryUndo, err)
	}
	if got := settingValues(t, db.DB)[1]; got != "help.cloud.example" {
		t.Errorf("Undo(dry run) changed data: setting 1 = %q", got)
	}
	u, err := Undo(ctx, db.DB, rec2, false)
	if err != nil {
		t.Fatalf("Undo: %v", err)
	}
	if u.Restored != 4 || len(u.Conflicts) != 1 || string(u.Conflicts[0].Key["settingid"].Bytes) != "2" || len(u.NotUndoable) != 1 {
		t.Errorf("Undo = restored %d, conflicts %+v, not undoable %d; want 4, setting 2, 1", u.Restored, u.Conflicts, len(u.NotUndoable))
	}
	got = settingValues(t, db.DB)
	wantVals = map[int]string{1: "help.old.com", 2: "hand-edited", 3: params["smtp"], 4: "help.new.com", 5: "<null>"}
	if !reflect.DeepEqual(got, wantVals) {
		t.Errorf("after Undo settings = %v; want %v", got, wantVals)
	}
	var data []byte
	db.QueryRow("SELECT data FROM qu_g_files WHERE fileid='f1'").Scan(&data)
	if string(data) != "\x00\xff\x10" {
		t.Errorf("after Undo blob = %x; want 00ff10", data)
	}
	u2, err := Undo(ctx, db.DB, rec2, false)
	if err != nil || u2.Restored != 0 || u2.AlreadyUndone != 4 {
		t.Errorf("Undo (again) = %+v, %v; want 0 restored, 4 already undone", u2, err)
	}
}

func TestAdjustAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db := mysqltest.New(t)
	db.MustExec(t, adjustSchema...)
	orig := settingValues(t, db.DB)
	tests := []struct {
		name, rules, wantErr string
	}{
		{"missing column", `{"rules":[{"name":"a","table":"qu_g_settings","set":{"value":"x"},"where":{"name":"server_name"}},
			{"name":"b","table":"qu_g_settings","set":{"nope":"x"},"where":{"name":"x"}}]}`, "no column nope"},
		{"missing table", `{"rules":[{"name":"a","table":"qu_g_settings","set":{"value":"x"},"all_rows":true},
			{"name":"b","table":"missing","set":{"v":"x"},"all_rows":true}]}`, "does not exist"},
		{"no key", `{"rules":[{"name":"a","table":"qu_g_settings","set":{"value":"x"},"all_rows":true},
			{"name":"b","table":"nokey","set":{"a":"3"},"where":{"b":"2"}}]}`, "no primary key"},
		{"bad sql", `{"rules":[{"name":"a","table":"qu_g_settings","set":{"value":"x"},"all_rows":true},
			{"name":"b","sql":"UPDATE qu_g_settings SET nope = 1"}]}`, "Unknown column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRules([]byte(tt.rules))
			if err != nil {
				t.Fatalf("ParseRules: %v", err)
			}
			_, err = Apply(ctx, db.DB, r, Config{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Apply = %v; want an error containing %q", err, tt.wantErr)
			}
			if got := settingValues(t, db.DB); !reflect.DeepEqual(got, orig) {
				t.Errorf("Apply failed but changed data: %v", got)
			}
		})
	}
	r, _ := ParseRules([]byte(`{"params":["p"],"rules":[{"name":"a","sql":"DELETE FROM nokey WHERE a = ${p}"}]}`))
	var mp *MissingParamsError
	if _, err := Apply(ctx, db.DB, r, Config{}); !errors.As(err, &mp) || len(mp.Names) != 1 || mp.Names[0] != "p" {
		t.Errorf("Apply without a parameter value = %v; want a MissingParamsError naming p", err)
	}
}

func TestParseRulesErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", `{}`, "no rules"},
		{"unknown field", `{"rules":[{"name":"a","sql":"DELETE FROM t","extra":1}]}`, "unknown field"},
		{"trailing data", `{"rules":[{"name":"a","sql":"DELETE FROM t"}]} {}`, "after the rules"},
		{"trailing garbage", `{"rules":[{"name":"a","sql":"DELETE FROM t"}]} junk`, "after the rules"},
		{"both kinds", `{"rules":[{"name":"a","sql":"DELETE FROM t","table":"t"}]}`, "not both"},
		{"ddl", `{"rules":[{"name":"a","sql":"DROP TABLE t"}]}`, "UPDATE, INSERT"},
		{"two statements", `{"rules":[{"name":"a","sql":"DELETE FROM t; DELETE FROM u"}]}`, "one statement"},
		{"quoted param", `{"params":["x"],"rules":[{"name":"a","sql":"DELETE FROM t WHERE a = '${x}'"}]}`, "bare"},
		{"param in comment", `{"params":["x"],"rules":[{"name":"a","sql":"DELETE FROM t /* ${x} */"}]}`, "comment"},
		{"undeclared", `{"rules":[{"name":"a","sql":"DELETE FROM t WHERE a = ${x}"}]}`, "not declared"},
		{"undeclared in set", `{"rules":[{"name":"a","table":"t","set":{"v":"${x}"},"all_rows":true}]}`, "not declared"},
		{"no where", `{"rules":[{"name":"a","table":"t","set":{"v":"1"}}]}`, "all_rows"},
		{"no set", `{"rules":[{"name":"a","table":"t","where":{"v":"1"}}]}`, "no columns"},
		{"set and where", `{"rules":[{"name":"a","table":"t","set":{"v":"1"},"where":{"v":"2"}}]}`, "both set and matched"},
		{"dup name", `{"rules":[{"name":"a","sql":"DELETE FROM t"},{"name":"a","sql":"DELETE FROM u"}]}`, "twice"},
		{"bad param name", `{"params":["a-b"],"rules":[{"name":"a","sql":"DELETE FROM t"}]}`, "not a name"},
		{"unclosed quote", `{"rules":[{"name":"a","sql":"DELETE FROM t WHERE a = 'x"}]}`, "unclosed"},
		{"bad value", `{"rules":[{"name":"a","table":"t","set":{"v":[1]},"all_rows":true}]}`, "value"},
		{"long ident", `{"rules":[{"name":"a","table":"` + strings.Repeat("x", 65) + `","set":{"v":"1"},"all_rows":true}]}`, "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseRules(%s) = %v; want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestExpandSQL(t *testing.T) {
	repl := func(name string) (string, error) { return "'" + strings.ToUpper(name) + "'", nil }
	tests := []struct{ in, want string }{
		{"UPDATE t SET a = ${x};", "UPDATE t SET a = 'X'"},
		{"UPDATE t SET a = ${x} WHERE b = 'it''s; fine' -- trailing\n", "UPDATE t SET a = 'X' WHERE b = 'it''s; fine' -- trailing"},
		{"UPDATE `we;ird` SET `a` = \"q\\\"\" # c\n", "UPDATE `we;ird` SET `a` = \"q\\\"\" # c"},
		{"DELETE FROM t WHERE a = 1--1", "DELETE FROM t WHERE a = 1--1"},
	}
	for _, tt := range tests {
		got, err := expandSQL(tt.in, repl)
		if err != nil || got != tt.want {
			t.Errorf("expandSQL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseRules(f *testing.F) {
	f.Add([]byte(adjustRulesJSON))
	f.Add([]byte(`{"rules":[{"name":"a","sql":"DELETE FROM t WHERE a = 'x' -- c"}]}`))
	f.Add([]byte(`{"params":["p"],"rules":[{"name":"a","sql":"UPDATE t SET a=${p} /* c */ WHERE b=\"${\""}]}`))
	f.Add([]byte(`{"rules":[{"name":"a","table":"t","set":{"v":{"base64":"AAE="}},"where":{"k":null}}]}`))
	f.Add([]byte(`{"rules":[{"name":"a","table":"t","set":{"v":12.5,"w":true},"all_rows":true}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRules(b)
		if err != nil {
			return
		}
		// What parses survives a round trip.
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", r, err)
		}
		r2, err := ParseRules(out)
		if err != nil {
			t.Fatalf("ParseRules(Marshal(ParseRules(%q))) = %v", b, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the rules: %+v != %+v", r, r2)
		}
		// A hostile parameter value stays one string literal: the bound
		// statement has the same shape with it as with a plain value.
		params := map[string]string{}
		plain := map[string]string{}
		for _, p := range r.Params {
			params[p] = "x'); DROP TABLE t; -- \\' \" ` /* ${p} \x00"
			plain[p] = "v"
		}
		for _, ru := range r.Rules {
			b1, err1 := ru.Bind(params)
			b2, err2 := ru.Bind(plain)
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("Bind errors differ: %v vs %v", err1, err2)
			}
			if err1 != nil || ru.SQL == "" {
				continue
			}
			// Re-scanning the bound statement must succeed and find no
			// parameter or statement separator the values brought in.
			if _, err := expandSQL(b1.SQL, func(string) (string, error) { return "", nil }); err != nil && !strings.Contains(err.Error(), "inside") {
				t.Fatalf("bound SQL %q does not scan: %v (plain %q)", b1.SQL, err, b2.SQL)
			}
		}
	})
}
