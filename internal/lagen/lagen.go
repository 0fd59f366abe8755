package lagen

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// DataVersion changes whenever the generated data changes for a given Size
// and Seed (a new table, another column, other values). bench/setup-db.sh
// records it to know when the benchmark database is out of date.
const DataVersion = 1

// ErrNotEmpty is returned when the target database already holds a table
// that Generate would create.
var ErrNotEmpty = errors.New("lagen: database is not empty")

// Table describes one table that Generate creates.
type Table struct {
	Name   string
	Engine string // InnoDB or MyISAM
	// Ignored is true for the tables on lamigrate's default ignore list.
	Ignored bool
}

// Tables lists every table Generate creates, in creation order.
func Tables() []Table {
	out := make([]Table, len(schema))
	for i, t := range schema {
		out[i] = Table{Name: t.name, Engine: t.engineName(), Ignored: t.ignored}
	}
	return out
}

func (t *table) engineName() string {
	if t.engine == "" {
		return "InnoDB"
	}
	return t.engine
}

// CreateStatement is the CREATE TABLE statement of one table.
func (t *table) createStatement() string {
	return "CREATE TABLE " + ident.Quote(t.name) + " (\n  " + t.ddl + "\n) ENGINE=" + t.engineName() +
		" DEFAULT CHARSET=utf8 COLLATE=utf8_general_ci"
}

// TableStats is what Generate loaded into one table.
type TableStats struct {
	Name  string
	Rows  int64
	Bytes int64 // data bytes (values before SQL escaping)
}

// Stats is the result of Generate.
type Stats struct {
	Tables   []TableStats // in Tables() order
	Rows     int64
	Bytes    int64
	Duration time.Duration
}

// Session is the session setup Generate uses on every connection: zero
// dates need a sql_mode without NO_ZERO_DATE; strict mode still catches
// values that would not fit.
var Session = []string{
	"SET NAMES utf8mb4",
	"SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
	"SET SESSION time_zone = '+00:00'",
	"SET SESSION unique_checks = 0",
	"SET SESSION foreign_key_checks = 0",
}

type job struct {
	t      *table
	index  int // in schema
	lo, hi int64
}

// Generate creates the LiveAgent-like schema in the database db is connected
// to and fills it. The contents depend only on cfg.Size and cfg.Seed.
func Generate(ctx context.Context, db *sql.DB, cfg Config) (*Stats, error) {
	start := time.Now()
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := newPlan(cfg)

	conns := make([]*sql.Conn, cfg.Parallel)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("lagen: connecting: %w", err)
		}
		conns[i] = c
		for _, s := range Session {
			if _, err := c.ExecContext(ctx, s); err != nil {
				return nil, fmt.Errorf("lagen: %s: %w", s, err)
			}
		}
	}
	c0 := conns[0]
	var dbName sql.NullString
	var maxPacket int64
	var localInfile bool
	if err := c0.QueryRowContext(ctx, "SELECT DATABASE(), @@max_allowed_packet, @@local_infile").Scan(&dbName, &maxPacket, &localInfile); err != nil {
		return nil, fmt.Errorf("lagen: %w", err)
	}
	tsv := cfg.Method == MethodLoadData || cfg.Method == MethodAuto && localInfile
	if cfg.Method == MethodLoadData && !localInfile {
		return nil, errors.New("lagen: the server has local_infile off; use the insert method or SET GLOBAL local_infile = 1")
	}
	if !dbName.Valid {
		return nil, errors.New("lagen: no database selected (name one in the DSN)")
	}
	batch := min(int64(cfg.BatchBytes), maxPacket-2*int64(p.maxBlob)-64<<10)
	if batch < 64<<10 {
		return nil, fmt.Errorf("lagen: the server's max_allowed_packet (%d) is too small; it needs at least %d", maxPacket, 2*int64(p.maxBlob)+128<<10)
	}
	if err := checkEmpty(ctx, c0, dbName.String); err != nil {
		return nil, err
	}
	for _, t := range schema {
		if _, err := c0.ExecContext(ctx, t.createStatement()); err != nil {
			return nil, fmt.Errorf("lagen: creating %s: %w", t.name, err)
		}
	}

	// Jobs: each table cut into chunks of units, interleaved across tables
	// so the connections work on different tables at once.
	var queues [][]job
	for i, t := range schema {
		n := t.units(p)
		chunk := t.chunk
		if chunk == 0 {
			chunk = n
		}
		var q []job
		for lo := int64(0); lo < n; lo += chunk {
			q = append(q, job{t: t, index: i, lo: lo, hi: min(lo+chunk, n)})
		}
		queues = append(queues, q)
	}
	total := p.target
	jobs := make(chan job)
	stats := &Stats{Tables: make([]TableStats, len(schema))}
	for i, t := range schema {
		stats.Tables[i].Name = t.name
	}
	var mu sync.Mutex
	var done int64
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		for more := true; more; {
			more = false
			for i := range queues {
				if len(queues[i]) == 0 {
					continue
				}
				more = true
				select {
				case jobs <- queues[i][0]:
				case <-gctx.Done():
					return gctx.Err()
				}
				queues[i] = queues[i][1:]
			}
		}
		return nil
	})
	for _, c := range conns {
		g.Go(func() error {
			w := rows{tsv: tsv}
			streams := map[string]*stream{}
			for j := range jobs {
				s := streams[j.t.name]
				if s == nil {
					s = contentStream(p.seed, j.t.name)
					streams[j.t.name] = s
				}
				flush := func() error {
					if w.n == 0 {
						return nil
					}
					if err := send(gctx, c, j.t.name, &w); err != nil {
						return fmt.Errorf("lagen: loading %s: %w", j.t.name, err)
					}
					mu.Lock()
					ts := &stats.Tables[j.index]
					ts.Rows += int64(w.n)
					ts.Bytes += w.data
					done += w.data
					if cfg.Progress != nil {
						cfg.Progress.Update(done, max(total, done))
					}
					mu.Unlock()
					w.buf, w.n, w.data = w.buf[:0], 0, 0
					return nil
				}
				for u := j.lo; u < j.hi; u++ {
					j.t.gen(p, s.at(u), &w, u)
					if int64(len(w.buf)) >= batch {
						if err := flush(); err != nil {
							return err
						}
					}
				}
				if err := flush(); err != nil {
					return err
				}
				if err := gctx.Err(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, ts := range stats.Tables {
		stats.Rows += ts.Rows
		stats.Bytes += ts.Bytes
	}
	stats.Duration = time.Since(start)
	return stats, nil
}

var readerSeq atomic.Int64

// send loads the rows in w into table.
func send(ctx context.Context, c *sql.Conn, table string, w *rows) error {
	if !w.tsv {
		_, err := c.ExecContext(ctx, "INSERT INTO "+ident.Quote(table)+" VALUES "+string(w.buf))
		return err
	}
	name := fmt.Sprintf("lamigrate-lagen-%d", readerSeq.Add(1))
	buf := w.buf
	mysql.RegisterReaderHandler(name, func() io.Reader { return bytes.NewReader(buf) })
	defer mysql.DeregisterReaderHandler(name)
	// CHARACTER SET binary: the bytes go to each column as they are (utf8
	// text, utf8mb4 text, blobs alike). With LOCAL the server skips
	// duplicate keys instead of failing, so count the rows.
	res, err := c.ExecContext(ctx, "LOAD DATA LOCAL INFILE "+ident.String("Reader::"+name)+
		" INTO TABLE "+ident.Quote(table)+" CHARACTER SET binary")
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n != int64(w.n) {
		return fmt.Errorf("LOAD DATA stored %d of %d rows", n, w.n)
	}
	return nil
}

func contentStream(seed uint64, table string) *stream { return newStream(seed, "table/"+table) }

func checkEmpty(ctx context.Context, c *sql.Conn, db string) error {
	rows, err := c.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", db)
	if err != nil {
		return fmt.Errorf("lagen: listing tables: %w", err)
	}
	defer rows.Close()
	ours := map[string]bool{}
	for _, t := range schema {
		ours[strings.ToLower(t.name)] = true
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("lagen: listing tables: %w", err)
		}
		if ours[strings.ToLower(name)] {
			return fmt.Errorf("%w: %s already has table %s", ErrNotEmpty, db, name)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("lagen: listing tables: %w", err)
	}
	return nil
}
