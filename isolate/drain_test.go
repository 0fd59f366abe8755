package isolate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestDrain(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t, "CREATE TABLE qu_g_queued_jobs (jobid INT PRIMARY KEY, status CHAR(1))",
		"INSERT INTO qu_g_queued_jobs VALUES (1,'F'),(2,'P'),(3,'R')")
	ctx := context.Background()

	var counts []int64
	// The jobs finish once the first count was reported.
	res, err := Drain(ctx, db.DB, DrainOptions{Interval: time.Millisecond, Timeout: time.Minute, Progress: ProgressFunc(func(e Event) {
		counts = append(counts, e.Count)
		if len(counts) == 1 {
			db.MustExec(t, "UPDATE qu_g_queued_jobs SET status = 'F'")
		}
	})})
	if err != nil || res.Remaining != 0 || res.Polls != 2 {
		t.Fatalf("Drain = %+v, %v; want 0 remaining after 2 polls", res, err)
	}
	if len(counts) != 2 || counts[0] != 2 || counts[1] != 0 {
		t.Errorf("Drain reported counts %v; want [2 0]", counts)
	}

	db.MustExec(t, "INSERT INTO qu_g_queued_jobs VALUES (4,'P'),(5,'P'),(6,'X')")
	res, err = Drain(ctx, db.DB, DrainOptions{Interval: time.Millisecond, Timeout: 20 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "3 background jobs still pending") || res.Remaining != 3 {
		t.Errorf("Drain with pending jobs = %+v, %v; want ErrTimeout saying 3 remain", res, err)
	}

	res, err = Drain(ctx, db.DB, DrainOptions{Query: "SELECT COUNT(*) FROM qu_g_queued_jobs WHERE status = 'X'", Interval: time.Millisecond, Timeout: 20 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || res.Remaining != 1 {
		t.Errorf("Drain with a custom query = %+v, %v; want 1 remaining", res, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Drain(cctx, db.DB, DrainOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Drain cancelled = %v; want context.Canceled", err)
	}
	if _, err := Drain(ctx, db.DB, DrainOptions{Query: "SELECT COUNT(*) FROM no_such_table"}); err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Errorf("Drain with a bad query = %v; want an error naming the table", err)
	}
	if _, err := Drain(ctx, db.DB, DrainOptions{Query: "SELECT 1; DROP TABLE x"}); err == nil {
		t.Errorf("Drain with two statements = nil; want an error")
	}
}
