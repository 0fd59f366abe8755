// Command lagen fills a database with a generated LiveAgent-like schema and
// data (see package internal/lagen).
//
//	go run ./internal/lagen/cmd/lagen --dsn 'root@unix(/run/mysqld/mysqld.sock)/DBNAME' --size 1GiB [--seed 1] [--create]
//
// It refuses a database that already has tables and prints a one-line
// summary: tables, rows, data bytes, seconds.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/qualityunit/lamigrate/internal/bytesize"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/lagen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "lagen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lagen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("dsn", "", "go-sql-driver DSN naming the database, e.g. root@unix(/run/mysqld/mysqld.sock)/lagen")
	size := fs.String("size", "16MiB", "approximate data size (KiB, MiB, GiB suffixes)")
	seed := fs.Uint64("seed", lagen.DefaultSeed, "seed: the same seed and size give the same data")
	create := fs.Bool("create", false, "create the database when it does not exist")
	parallel := fs.Int("parallel", lagen.DefaultParallel, "connections loading at once")
	method := fs.String("method", "", "load with load-data or insert (default: load-data when the server allows it)")
	dataVersion := fs.Bool("data-version", false, "print the generator's data version and exit")
	verbose := fs.Bool("v", false, "print progress to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataVersion {
		fmt.Fprintln(stdout, lagen.DataVersion)
		return nil
	}
	if *dsn == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: lagen --dsn DSN [--size 1GiB] [--seed N] [--create]")
	}
	n, err := bytesize.Parse(*size)
	if err != nil {
		return err
	}
	mcfg, err := mysql.ParseDSN(*dsn)
	if err != nil {
		return fmt.Errorf("--dsn: %w", err)
	}
	if mcfg.DBName == "" {
		return fmt.Errorf("--dsn names no database")
	}
	cfg := lagen.Config{Size: n, Seed: *seed, Parallel: *parallel, Method: *method}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *verbose {
		cfg.Progress = &progress{w: stderr}
	}

	if *create {
		admin := mcfg.Clone()
		admin.DBName = ""
		if err := withDB(ctx, admin, func(db *sql.DB) error {
			_, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+ident.Quote(mcfg.DBName)+
				" CHARACTER SET utf8 COLLATE utf8_general_ci")
			return err
		}); err != nil {
			return fmt.Errorf("creating database %s: %w", mcfg.DBName, err)
		}
	}
	var st *lagen.Stats
	err = withDB(ctx, mcfg, func(db *sql.DB) error {
		var tables int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables); err != nil {
			return err
		}
		if tables > 0 {
			return fmt.Errorf("database %s already has %d tables; lagen fills only an empty database", mcfg.DBName, tables)
		}
		st, err = lagen.Generate(ctx, db, cfg)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "lagen: %s: %d tables, %d rows, %d data bytes (%s), %.1f s\n",
		mcfg.DBName, len(st.Tables), st.Rows, st.Bytes, bytesize.Format(st.Bytes), st.Duration.Seconds())
	return nil
}

func withDB(ctx context.Context, cfg *mysql.Config, f func(*sql.DB) error) error {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return err
	}
	return f(db)
}

type progress struct {
	w    io.Writer
	last int64
}

func (p *progress) Update(done, total int64) {
	pct := done * 100 / max(total, 1)
	if pct/10 > p.last/10 {
		p.last = pct
		fmt.Fprintf(p.w, "lagen: %d%% (%s of ~%s)\n", pct, bytesize.Format(done), bytesize.Format(total))
	}
}
