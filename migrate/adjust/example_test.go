package adjust_test

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/qualityunit/lamigrate/migrate/adjust"
)

func ExampleParseRules() {
	rules, err := adjust.ParseRules([]byte(`{
	  "params": ["domain"],
	  "rules": [
	    {"name": "server name", "table": "qu_g_settings",
	     "set": {"value": "help.${domain}"}, "where": {"name": "server_name"}},
	    {"name": "built-in mailbox", "sql": "UPDATE qu_la_mail_accounts SET email = CONCAT('help@', ${domain}) WHERE fetch_type = 'B'"}
	  ]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rules.Rules {
		b, _ := r.Bind(map[string]string{"domain": "it's.example"})
		if b.SQL != "" {
			fmt.Println(b.SQL)
		} else {
			fmt.Println(b.Table, b.Set["value"])
		}
	}
	// Output:
	// qu_g_settings "help.it's.example"
	// UPDATE qu_la_mail_accounts SET email = CONCAT('help@', 'it\'s.example') WHERE fetch_type = 'B'
}

// Adjust a database, keep the record, and take the changes back.
func ExampleApply() {
	var db *sql.DB // connected to the imported database
	ctx := context.Background()
	rules, err := adjust.LoadRules("examples/adjust-rules.json")
	if err != nil {
		return
	}
	rep, err := adjust.Apply(ctx, db, rules, adjust.Config{Params: map[string]string{"domain": "example.com"}})
	if err != nil {
		return
	}
	if err := rep.Record().Write("adjust-record.json"); err != nil {
		return
	}
	rec, _ := adjust.ReadRecord("adjust-record.json")
	undo, err := adjust.Undo(ctx, db, rec, false)
	if err == nil {
		fmt.Println(undo.Restored, len(undo.Conflicts))
	}
}
