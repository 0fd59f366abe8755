// Command customprofile builds an isolation profile for an installation
// with one more external source than LiveAgent's default (a custom webhook
// table here), checks it against the database and shows what isolate would
// change, without changing anything. It writes the profile so that
// `lamigrate isolate --profile FILE` or a run config's "profile" can use it.
//
//	go run ./examples/customprofile -dsn 'root@unix(/run/mysqld/mysqld.sock)/liveagent' -o profile.json
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/isolate"
)

func main() {
	dsn := flag.String("dsn", "", "go-sql-driver DSN naming the database (password from MYSQL_PWD)")
	out := flag.String("o", "profile.json", "where to write the profile")
	flag.Parse()
	if err := run(*dsn, *out); err != nil {
		fmt.Fprintln(os.Stderr, "customprofile:", err)
		os.Exit(1)
	}
}

// Profile returns the default profile plus the custom source.
func Profile() (*isolate.Profile, error) {
	p := isolate.DefaultProfile()
	p.Sources = append(p.Sources, isolate.Source{
		Name:        "webhooks",
		Description: "outgoing webhooks of a custom plugin",
		Table:       "custom_webhooks",
		Key:         "webhookid",
		Column:      "enabled",
		ActiveWhere: "enabled = 'Y'",
		Write:       "N",
		Confidence:  isolate.Confirmed,
	})
	return p, p.Validate()
}

func run(dsn, out string) error {
	p, err := Profile()
	if err != nil {
		return err
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	if cfg.Passwd == "" {
		cfg.Passwd = os.Getenv("MYSQL_PWD")
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx := context.Background()

	status, err := p.Inspect(ctx, db)
	if err != nil {
		return err
	}
	for _, s := range status {
		if s.Usable() {
			fmt.Printf("%-20s %s: %d active rows\n", s.Name, s.Table, s.Active)
		} else {
			fmt.Printf("%-20s %s: not usable: %s\n", s.Name, s.Table, s.Problem)
		}
	}
	// A dry run records nothing and changes nothing.
	state := filepath.Join(os.TempDir(), "customprofile-dry-run.json")
	res, err := isolate.Isolate(ctx, db, p, state, isolate.Options{DryRun: true})
	if err != nil {
		return err
	}
	for _, s := range res.Sources {
		fmt.Printf("would set %s.%s = %q on %d rows (%s)\n", s.Table, s.Column, s.Write, s.Active, s.Status)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}
