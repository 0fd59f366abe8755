// Command dumpverify dumps a database into a compressed archive and proves
// the archive whole against the manifest written beside it: the first two
// steps of a migration's source side, as a stand-alone tool.
//
//	MYSQL_PWD=secret go run ./examples/dumpverify -dsn 'user@tcp(db:3306)/liveagent' -o dump.sql.zst
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/verify"
)

func main() {
	dsn := flag.String("dsn", "", "go-sql-driver DSN naming the database (password from MYSQL_PWD)")
	out := flag.String("o", "dump.sql.gz", "archive to write (.sql.gz, .sql.zst, .sql.lz4, .sql)")
	flag.Parse()
	if err := run(*dsn, *out); err != nil {
		fmt.Fprintln(os.Stderr, "dumpverify:", err)
		os.Exit(1)
	}
}

// progress prints a line per table the dump finishes.
type progress struct{ done int }

func (p *progress) Update(s dump.Status) {
	if s.TablesDone > p.done {
		p.done = s.TablesDone
		fmt.Fprintf(os.Stderr, "dumped %d/%d tables, %d rows\n", s.TablesDone, s.Tables, s.Rows)
	}
}
func (p *progress) Warn(msg string) { fmt.Fprintln(os.Stderr, "warning:", msg) }

func run(dsn, out string) error {
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := dump.File(ctx, db, out, dump.Config{Database: cfg.DBName}, dump.Options{Progress: &progress{}})
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d bytes, %d tables, sha256 %s\n", res.File.Path, res.File.Size, len(res.Tables), res.File.SHA256)

	rep, err := verify.File(ctx, out, verify.Options{})
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("%s does not verify: %s", out, rep.Failure)
	}
	fmt.Printf("verified %s (%s evidence) against %s\n", out, rep.Evidence, rep.Manifest)
	return nil
}
