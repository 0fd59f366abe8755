package dump

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// TestSnapshotWithConcurrentWriters moves money between two tables while
// the dump runs: the loaded dump must hold exactly the starting total and
// differ from the live tables, proving it is one snapshot taken before the
// writes and not a mix.
func TestSnapshotWithConcurrentWriters(t *testing.T) {
	src := mysqltest.New(t)
	const rows, start = 2000, 1000
	src.MustExec(t,
		"CREATE TABLE acct_a (id INT PRIMARY KEY, bal BIGINT NOT NULL) ENGINE=InnoDB",
		"CREATE TABLE acct_b (id INT PRIMARY KEY, bal BIGINT NOT NULL) ENGINE=InnoDB",
		"CREATE TABLE log_c (id INT PRIMARY KEY AUTO_INCREMENT, amount BIGINT) ENGINE=InnoDB")
	var vals []string
	for i := range rows {
		vals = append(vals, fmt.Sprintf("(%d, %d)", i, start))
	}
	src.MustExec(t, "INSERT INTO acct_a VALUES "+strings.Join(vals, ","), "INSERT INTO acct_b VALUES "+strings.Join(vals, ","))
	const total = 2 * rows * start

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var commits, target atomic.Int64
	target.Store(1 << 62)
	progressed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	werr := make(chan error, 4)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for ctx.Err() == nil {
				err := transfer(ctx, src.DB, r)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
						werr <- err
					}
					return
				}
				if commits.Add(1) >= target.Load() {
					once.Do(func() { close(progressed) })
				}
			}
		}()
	}
	// The dump reads acct_a, then waits (before acct_b and log_c) until the
	// writers committed 200 more transfers, all after the snapshot began.
	withHook(t, func(ctx context.Context, _ *sql.Conn, table string) {
		if table == "acct_a" {
			target.Store(commits.Load() + 200)
		}
		if table == "acct_b" {
			select {
			case <-progressed:
			case <-ctx.Done():
			}
		}
	})
	path, m, _ := dumpFile(t, src, "c.sql.gz", Config{}, Options{})
	cancel()
	wg.Wait()
	close(werr)
	for err := range werr {
		t.Fatalf("writer: %v", err)
	}

	dst := mysqltest.New(t)
	loadWithClient(t, "gzip -dc", path, dst)
	var got, sumA, logged, loggedSum int64
	if err := dst.QueryRow(`SELECT (SELECT SUM(bal) FROM acct_a) + (SELECT SUM(bal) FROM acct_b),
		(SELECT SUM(bal) FROM acct_a), (SELECT COUNT(*) FROM log_c), (SELECT COALESCE(SUM(amount), 0) FROM log_c)`).
		Scan(&got, &sumA, &logged, &loggedSum); err != nil {
		t.Fatal(err)
	}
	if got != total {
		t.Errorf("total in the loaded dump = %d; want %d (the dump mixes states)", got, total)
	}
	if want := int64(rows*start) - loggedSum; sumA != want {
		t.Errorf("acct_a in the loaded dump = %d; want %d (the %d transfers its log holds)", sumA, want, logged)
	}
	var live int64
	if err := src.QueryRow("SELECT COUNT(*) FROM log_c").Scan(&live); err != nil {
		t.Fatal(err)
	}
	if live < logged+200 {
		t.Errorf("live log has %d transfers, the dump %d; want at least 200 made during the dump", live, logged)
	}
	if m.Table("acct_b").Rows != rows {
		t.Errorf("acct_b rows = %d; want %d", m.Table("acct_b").Rows, rows)
	}
}

// transfer moves a random amount from acct_a to acct_b (or back) and logs it,
// in one transaction.
func transfer(ctx context.Context, db *sql.DB, r *rand.Rand) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	amt := r.Int64N(100) - 50
	from, to := r.IntN(2000), r.IntN(2000)
	if _, err := tx.ExecContext(ctx, "UPDATE acct_a SET bal = bal - ? WHERE id = ?", amt, from); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE acct_b SET bal = bal + ? WHERE id = ?", amt, to); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO log_c (amount) VALUES (?)", amt); err != nil {
		return err
	}
	return tx.Commit()
}
