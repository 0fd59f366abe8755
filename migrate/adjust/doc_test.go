package adjust

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/lagen"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// rulesDocExample returns the example of Rules' doc comment: its one
// indented block.
func rulesDocExample(t *testing.T) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "rules.go", nil, parser.ParseComments)
	require.NoError(t, err, "parsing rules.go for its doc comment")
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE || g.Specs[0].(*ast.TypeSpec).Name.Name != "Rules" {
			continue
		}
		var block []string
		for _, l := range strings.Split(g.Doc.Text(), "\n") {
			if strings.HasPrefix(l, "\t") {
				block = append(block, l[1:])
			}
		}
		return strings.Join(block, "\n")
	}
	t.Fatal("no type Rules in rules.go")
	return ""
}

// TestRulesDocExample: the example in Rules' doc is examples/adjust-rules.json,
// names only tables the dump carries, and runs as written on a generated
// installation: applied, applied again (no change), undone.
func TestRulesDocExample(t *testing.T) {
	example := rulesDocExample(t)
	file, err := os.ReadFile(filepath.Join("..", "..", "examples", "adjust-rules.json"))
	require.NoError(t, err, "reading examples/adjust-rules.json")
	if strings.TrimSpace(string(file)) != strings.TrimSpace(example) {
		t.Fatalf("Rules' doc example and examples/adjust-rules.json differ:\n--- doc\n%s\n--- file\n%s", example, file)
	}
	for _, ig := range dump.DefaultIgnores() {
		if regexp.MustCompile(`\b` + ig + `\b`).MatchString(example) {
			t.Errorf("the example names %s, a table the dump leaves out", ig)
		}
	}
	rules, err := ParseRules([]byte(example))
	if err != nil {
		t.Fatalf("ParseRules(doc example): %v", err)
	}

	db := mysqltest.New(t)
	if _, err := lagen.Generate(context.Background(), db.DB, lagen.Config{Size: 512 << 10, Seed: 3}); err != nil {
		t.Fatalf("lagen.Generate: %v", err)
	}
	setting := func(name string) string {
		var v string
		if err := db.QueryRow("SELECT value FROM qu_g_settings WHERE name = ?", name).Scan(&v); err != nil {
			t.Fatalf("setting %s: %v", name, err)
		}
		return v
	}
	mailbox := func() string {
		var v string
		require.NoError(t, db.QueryRow("SELECT email FROM qu_la_mail_accounts WHERE fetch_type = 'B'").Scan(&v), "reading the built-in mailbox's address")
		return v
	}
	before := map[string]string{"server_name": setting("server_name"), "base_url": setting("base_url"), "last_cron_run": setting("last_cron_run")}

	_, err = Apply(context.Background(), db.DB, rules, Config{})
	var mp *MissingParamsError
	if !errors.As(err, &mp) || strings.Join(mp.Names, ",") != "domain" || !strings.Contains(err.Error(), "parameter domain of the rules has no value") {
		t.Fatalf("Apply without params = %v; want a MissingParamsError naming domain", err)
	}

	params := map[string]string{"domain": "help.example.com"}
	rep, err := Apply(context.Background(), db.DB, rules, Config{Params: params})
	if err != nil {
		t.Fatalf("Apply(doc example): %v", err)
	}
	want := map[string]string{"server_name": "help.example.com", "base_url": "https://help.example.com/", "last_cron_run": ""}
	for k, v := range want {
		if got := setting(k); got != v {
			t.Errorf("after adjust, %s = %q; want %q", k, got, v)
		}
	}
	if got := mailbox(); got != "help@help.example.com" {
		t.Errorf("after adjust, built-in mailbox = %q; want help@help.example.com", got)
	}
	if rep.Changed != 4 {
		t.Errorf("adjust changed %d rows; want 4 (3 settings, 1 mailbox)", rep.Changed)
	}
	again, err := Apply(context.Background(), db.DB, rules, Config{Params: params})
	if err != nil || again.Changed != 0 {
		t.Fatalf("Apply(doc example) again = %v, changed %d; want no change", err, again.Changed)
	}
	undo, err := Undo(context.Background(), db.DB, rep.Record(), false)
	if err != nil || undo.Restored != 3 || len(undo.NotUndoable) != 1 {
		t.Fatalf("Undo = %+v, %v; want 3 restored and the SQL rule not undoable", undo, err)
	}
	for k, v := range before {
		if got := setting(k); got != v {
			t.Errorf("after undo, %s = %q; want %q", k, got, v)
		}
	}

	// The demo's rules run on the same installation too.
	demo, err := LoadRules(filepath.Join("..", "..", "scripts", "demo", "rules.json"))
	require.NoError(t, err, "loading the demo's rules")
	if rep, err := Apply(context.Background(), db.DB, demo, Config{Params: map[string]string{"domain": "demo.ladesk.com"}, DryRun: true}); err != nil || rep.Changed == 0 {
		t.Errorf("Apply(scripts/demo/rules.json) = %v; want changes", err)
	}
}
