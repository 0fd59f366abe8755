package isolate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestDefaultProfile(t *testing.T) {
	p := DefaultProfile()
	if err := p.Validate(); err != nil {
		t.Fatalf("DefaultProfile().Validate() = %v; want nil", err)
	}
	want := []struct{ name, table, key, col, where, write, conf string }{
		{"mail accounts", "qu_la_mail_accounts", "mailaccountid", "status", "status IN ('A','P','S') AND fetch_type <> 'P'", "I", Inferred},
		{"mail pipe", "qu_la_mail_accounts", "mailaccountid", "status", "status IN ('A','P','S') AND fetch_type = 'P'", "I", Inferred},
		{"facebook pages", "qu_la_facebook_pages", "pageid", "status", "status = 'A'", "I", Guess},
		{"twitter accounts", "qu_la_twitter_accounts", "accountid", "status", "status = 'A'", "I", Guess},
		{"contact widgets", "qu_la_contactwidgets", "contactwidgetid", "rstatus", "rstatus = 'A'", "I", Guess},
		{"chat invitations", "qu_g_rules", "ruleid", "rstatus", "rtype = 'I' AND rstatus = 'E'", "D", Confirmed},
		{"ip allow-list", "qu_g_settings", "settingid", "value", "name = 'allowed_ips' AND value <> ''", "", Guess},
	}
	if len(p.Sources) != len(want) {
		t.Fatalf("DefaultProfile() has %d sources; want %d", len(p.Sources), len(want))
	}
	for i, w := range want {
		s := p.Sources[i]
		got := []string{s.Name, s.Table, s.Key, s.Column, s.ActiveWhere, s.Write, s.Confidence}
		exp := []string{w.name, w.table, w.key, w.col, w.where, w.write, w.conf}
		for j := range got {
			if got[j] != exp[j] {
				t.Errorf("DefaultProfile().Sources[%d] field %d = %q; want %q", i, j, got[j], exp[j])
			}
		}
	}
	if p.Source("mail pipe").File != "accounts/mail_pipe.php" {
		t.Errorf("mail pipe file = %q; want accounts/mail_pipe.php", p.Source("mail pipe").File)
	}
	// A fresh copy each time.
	p.Sources[0].Write = "X"
	if DefaultProfile().Sources[0].Write != "I" {
		t.Errorf("DefaultProfile() shares state between calls")
	}
}

func TestValidate(t *testing.T) {
	ok := func() Source {
		return Source{Name: "s", Table: "t", Key: "id", Column: "status", ActiveWhere: "status = 'A'", Write: "I"}
	}
	tests := []struct {
		name      string
		mod       func(s *Source)
		field     string // "" = valid
		wantInMsg string
	}{
		{"valid", func(s *Source) {}, "", ""},
		{"quotes in names are fine", func(s *Source) { s.Table = "we`ird" }, "", ""},
		{"escaped quote", func(s *Source) { s.ActiveWhere = `status = 'it''s' OR status = 'a\'b'` }, "", ""},
		{"semicolon in string", func(s *Source) { s.ActiveWhere = "status = ';'" }, "", ""},
		{"empty table", func(s *Source) { s.Table = "" }, "table", "empty"},
		{"long column", func(s *Source) { s.Column = strings.Repeat("c", 65) }, "column", "64"},
		{"trailing space", func(s *Source) { s.Key = "id " }, "key", "space"},
		{"key is column", func(s *Source) { s.Column = "ID" }, "column", "key"},
		{"empty where", func(s *Source) { s.ActiveWhere = " " }, "active_where", "empty"},
		{"unclosed quote", func(s *Source) { s.ActiveWhere = "status = 'A" }, "active_where", "unclosed"},
		{"unbalanced paren", func(s *Source) { s.ActiveWhere = "status = 'A') OR (1=1" }, "active_where", "unbalanced"},
		{"open paren", func(s *Source) { s.ActiveWhere = "(status = 'A'" }, "active_where", "unclosed '('"},
		{"statements", func(s *Source) { s.ActiveWhere = "1; DROP TABLE t" }, "active_where", "';'"},
		{"comment", func(s *Source) { s.ActiveWhere = "status = 'A' -- x" }, "active_where", "comment"},
		{"hash comment", func(s *Source) { s.ActiveWhere = "status = 'A' # x" }, "active_where", "comment"},
		{"bad confidence", func(s *Source) { s.Confidence = "sure" }, "confidence", "not one of"},
		{"absolute file", func(s *Source) { s.File = "/etc/passwd" }, "file", "relative"},
		{"dotdot file", func(s *Source) { s.File = "accounts/../../x" }, "file", "inside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok()
			tt.mod(&s)
			p := &Profile{Sources: []Source{s}}
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v; want nil", s, err)
				}
				return
			}
			var pe *ProfileError
			if !errors.As(err, &pe) {
				t.Fatalf("Validate(%+v) = %v; want *ProfileError", s, err)
			}
			if pe.Source != "s" || pe.Field != tt.field || !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("Validate(%+v) = %q (field %q); want field %q mentioning %q", s, err, pe.Field, tt.field, tt.wantInMsg)
			}
		})
	}
	if err := (&Profile{}).Validate(); err == nil {
		t.Errorf("Validate(empty profile) = nil; want an error")
	}
	dup := &Profile{Sources: []Source{ok(), ok()}}
	if err := dup.Validate(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("Validate(duplicate names) = %v; want 'listed twice'", err)
	}
}

func TestLoadProfile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(s), 0o600), "writing the profile %s", p)
		return p
	}
	good := write("good.json", `{"sources":[{"name":"x","table":"t","key":"id","column":"c","active_where":"c='A'","write":"I"}]}`)
	p, err := LoadProfile(good)
	if err != nil || len(p.Sources) != 1 || p.Sources[0].Write != "I" {
		t.Fatalf("LoadProfile(good) = %+v, %v; want one source", p, err)
	}
	typo := write("typo.json", `{"sources":[{"name":"x","tabel":"t"}]}`)
	if _, err := LoadProfile(typo); err == nil || !strings.Contains(err.Error(), "tabel") || !strings.Contains(err.Error(), "typo.json") {
		t.Errorf("LoadProfile(typo) = %v; want an error naming the unknown field and the file", err)
	}
	if _, err := LoadProfile(filepath.Join(dir, "nope.json")); err == nil {
		t.Errorf("LoadProfile(missing) = nil error; want one")
	}
}

func FuzzLoadProfile(f *testing.F) {
	f.Add(defaultProfileJSON)
	f.Add([]byte(`{"sources":[{"name":"x","table":"t","key":"id","column":"c","active_where":"c='A'","write":"I"}]}`))
	f.Add([]byte(`{"sources":[{"name":"x","table":"t","key":"id","column":"c","active_where":"c='A\\'') OR (1","write":"I"}]}`))
	f.Add([]byte(`{"sources":[]}`))
	f.Add([]byte(`{"sources":[{"name":"x","table":"t","key":"id","column":"c","active_where":"(((","write":"I"}]} x`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProfile(b)
		if err != nil {
			return
		}
		// Whatever is accepted validates again and has conditions that are
		// one balanced expression, so wrapping them in (...) is safe.
		if err := p.Validate(); err != nil {
			t.Fatalf("ParseProfile accepted a profile that Validate rejects: %v", err)
		}
		for _, s := range p.Sources {
			if strings.ContainsAny(s.ActiveWhere, ";#") && !strings.ContainsAny(s.ActiveWhere, `'"`+"`") {
				t.Fatalf("accepted condition with a separator outside quotes: %q", s.ActiveWhere)
			}
		}
	})
}

// liveAgentSchema creates the source tables of the default profile with a
// few rows in every state.
func liveAgentSchema(t *testing.T, db *mysqltest.DB) {
	t.Helper()
	db.MustExec(t,
		`CREATE TABLE qu_la_mail_accounts (mailaccountid CHAR(8) PRIMARY KEY, status CHAR(1), fetch_type CHAR(1), name VARCHAR(80)) ENGINE=InnoDB`,
		`INSERT INTO qu_la_mail_accounts VALUES
			('m0000001','A','I','imap'),('m0000002','P','3','pop3'),('m0000003','S','B','builtin'),
			('m0000004','I','I','off'),('m0000005','A','P','pipe'),('m0000006',NULL,'I','null status')`,
		`CREATE TABLE qu_la_facebook_pages (pageid CHAR(8) PRIMARY KEY, status CHAR(1)) ENGINE=InnoDB`,
		`INSERT INTO qu_la_facebook_pages VALUES ('f0000001','A'),('f0000002','I')`,
		`CREATE TABLE qu_la_contactwidgets (contactwidgetid CHAR(8) PRIMARY KEY, status CHAR(1), rstatus CHAR(1)) ENGINE=InnoDB`,
		`INSERT INTO qu_la_contactwidgets VALUES ('w0000001','N','A'),('w0000002','N','A'),('w0000003','N','I')`,
		`CREATE TABLE qu_g_rules (ruleid CHAR(8) PRIMARY KEY, rtype CHAR(1), rstatus CHAR(1)) ENGINE=InnoDB`,
		`INSERT INTO qu_g_rules VALUES ('r0000001','I','E'),('r0000002','I','D'),('r0000003','A','E')`,
		`CREATE TABLE qu_g_settings (settingid INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80), value TEXT) ENGINE=InnoDB`,
		`INSERT INTO qu_g_settings (name, value) VALUES ('allowed_ips','10.0.0.1\n192.168.1.0/24  '),('other','x')`,
		`CREATE TABLE qu_g_queued_jobs (jobid INT AUTO_INCREMENT PRIMARY KEY, status CHAR(1)) ENGINE=InnoDB`,
	)
	// qu_la_twitter_accounts deliberately missing.
}

func TestInspect(t *testing.T) {
	db := mysqltest.New(t)
	liveAgentSchema(t, db)
	p := DefaultProfile()
	p.Sources = append(p.Sources,
		Source{Name: "no column", Table: "qu_g_rules", Key: "ruleid", Column: "enabled", ActiveWhere: "1", Write: "N"},
		Source{Name: "typo column", Table: "qu_g_rules", Key: "ruleid", Column: "rstatus", ActiveWhere: "rstauts = 'E'", Write: "D"},
		Source{Name: "typo sql", Table: "qu_g_rules", Key: "ruleid", Column: "rstatus", ActiveWhere: "rstatus = = 'E'", Write: "D"},
		Source{Name: "key not unique", Table: "qu_g_rules", Key: "rtype", Column: "rstatus", ActiveWhere: "rstatus = 'E'", Write: "D"},
	)
	got, err := p.Inspect(context.Background(), db.DB)
	if err != nil {
		t.Fatalf("Inspect = %v", err)
	}
	want := map[string]struct {
		exists  bool
		active  int64
		problem string
		condErr bool
	}{
		"mail accounts":    {true, 3, "", false},
		"mail pipe":        {true, 1, "", false},
		"facebook pages":   {true, 1, "", false},
		"twitter accounts": {false, -1, "does not exist", false},
		"contact widgets":  {true, 2, "", false},
		"chat invitations": {true, 1, "", false},
		"ip allow-list":    {true, 1, "", false},
		"no column":        {true, -1, "no column enabled", false},
		"typo column":      {true, -1, "rstauts", false},
		"typo sql":         {true, -1, "active_where", true},
		"key not unique":   {true, -1, "not a unique", true},
	}
	if len(got) != len(want) {
		t.Fatalf("Inspect returned %d statuses; want %d", len(got), len(want))
	}
	for _, st := range got {
		w := want[st.Name]
		if st.TableExists != w.exists || st.Active != w.active || (st.ConditionError != "") != w.condErr ||
			(w.problem == "") != (st.Problem == "") || !strings.Contains(st.Problem, w.problem) {
			t.Errorf("Inspect: %s = %+v; want exists=%v active=%d problem~%q condErr=%v", st.Name, st, w.exists, w.active, w.problem, w.condErr)
		}
	}
}
