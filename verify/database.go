package verify

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// Table statuses in a DatabaseReport.
const (
	StatusOK = "ok"
	// The others are the MismatchError What constants: TableMissing,
	// TableExtra, RowCount, RowDigest.
)

// TableResult is one table of a database check.
type TableResult struct {
	Name           string  `json:"name"`
	Status         string  `json:"status"`
	ManifestRows   int64   `json:"manifest_rows"`
	Rows           int64   `json:"rows"`
	ManifestDigest string  `json:"manifest_digest,omitempty"`
	Digest         string  `json:"digest,omitempty"`
	Seconds        float64 `json:"seconds"`
}

// DatabaseReport is the result of a database check: every table of the
// manifest and every extra table, with every difference.
type DatabaseReport struct {
	Database    string           `json:"database"`
	Tables      []TableResult    `json:"tables"`
	Ignored     []string         `json:"ignored,omitempty"`
	Rows        int64            `json:"rows"`
	Differences []*MismatchError `json:"differences"`
	OK          bool             `json:"ok"`
	Failure     string           `json:"failure,omitempty"`
	Seconds     float64          `json:"seconds"`
}

// Database proves that the database db is connected to (or opt.Schema)
// holds what manifest m records: for each of m's tables it reads every row
// once, recomputing the row count and rowhash content digest (insensitive
// to row order, sensitive to any value, NULL versus the empty string included), over
// opt.Connections connections in parallel, biggest table first. Base tables
// in the database that m neither lists nor ignores are differences too.
//
// A check that ran to the end returns its report and, when anything
// differs, a *DiffError listing every *MismatchError. Other errors (a lost
// connection, missing privileges) come without a verdict.
func Database(ctx context.Context, db *sql.DB, m *Manifest, opt Options) (*DatabaseReport, error) {
	start := time.Now()
	if m == nil {
		return nil, fmt.Errorf("verify: a database check needs the dump's manifest")
	}
	schema := opt.Schema
	if schema == "" {
		var cur sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&cur); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		if !cur.Valid || cur.String == "" {
			return nil, fmt.Errorf("verify: no database selected: name it in the DSN")
		}
		schema = cur.String
	}
	rep := &DatabaseReport{Database: schema, Tables: []TableResult{}, Differences: []*MismatchError{}}
	defer func() { rep.Seconds = time.Since(start).Seconds() }()

	type info struct {
		kind string
		size int64
	}
	present := map[string]info{}
	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME, TABLE_TYPE, COALESCE(DATA_LENGTH, 0)
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?`, schema)
	if err != nil {
		return nil, fmt.Errorf("verify: listing tables of %s: %w", ident.Quote(schema), err)
	}
	for rows.Next() {
		var name, kind string
		var size int64
		if err := rows.Scan(&name, &kind, &size); err != nil {
			rows.Close()
			return nil, fmt.Errorf("verify: listing tables of %s: %w", ident.Quote(schema), err)
		}
		present[name] = info{kind, size}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify: listing tables of %s: %w", ident.Quote(schema), err)
	}
	rows.Close()

	ignored := map[string]bool{}
	for _, n := range append(append([]string{}, m.Ignored...), m.Options.IgnoreList...) {
		if !ignored[n] {
			ignored[n] = true
			rep.Ignored = append(rep.Ignored, n)
		}
	}
	sort.Strings(rep.Ignored)

	// One result per manifest table, in manifest order.
	results := make([]TableResult, len(m.Tables))
	var jobs []int
	var total int64
	inManifest := map[string]bool{}
	for i, t := range m.Tables {
		inManifest[t.Name] = true
		results[i] = TableResult{Name: t.Name, ManifestRows: t.Rows, ManifestDigest: t.Digest, Rows: -1}
		if p, ok := present[t.Name]; !ok || p.kind == "VIEW" {
			results[i].Status = TableMissing
			continue
		}
		jobs = append(jobs, i)
		total += t.Rows
	}
	sort.SliceStable(jobs, func(a, b int) bool {
		return present[m.Tables[jobs[a]].Name].size > present[m.Tables[jobs[b]].Name].size
	})

	// Read the tables, biggest first, over n connections.
	n := opt.Connections
	if n <= 0 {
		n = 2
	}
	n = min(n, len(jobs))
	var done atomic.Int64
	var progMu sync.Mutex
	report := func(note string) {
		if opt.Progress == nil {
			return
		}
		progMu.Lock()
		opt.Progress.Update(done.Load(), total, note)
		progMu.Unlock()
	}
	next := make(chan int)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(next)
		for _, j := range jobs {
			select {
			case next <- j:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range n {
		g.Go(func() error {
			conn, err := db.Conn(gctx)
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			defer conn.Close()
			if _, err := conn.ExecContext(gctx, "SET time_zone = '+00:00'"); err != nil {
				return fmt.Errorf("verify: setting the session time zone: %w", err)
			}
			for j := range next {
				t0 := time.Now()
				name := m.Tables[j].Name
				d, err := tableDigest(gctx, conn, schema, name, func(rows int64) {
					done.Add(rows)
					report(name)
				})
				if err != nil {
					return err
				}
				r := &results[j]
				r.Rows, r.Digest, r.Seconds = d.Rows, d.String(), time.Since(t0).Seconds()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	report("")

	for i := range results {
		r := &results[i]
		switch {
		case r.Status == TableMissing:
			rep.Differences = append(rep.Differences, &MismatchError{Table: r.Name, What: TableMissing, Got: "database"})
		case r.Rows != r.ManifestRows:
			r.Status = RowCount
			rep.Differences = append(rep.Differences, &MismatchError{Table: r.Name, What: RowCount,
				Want: strconv.FormatInt(r.ManifestRows, 10), Got: strconv.FormatInt(r.Rows, 10)})
		case r.ManifestDigest != "" && r.Digest != r.ManifestDigest:
			r.Status = RowDigest
			rep.Differences = append(rep.Differences, &MismatchError{Table: r.Name, What: RowDigest,
				Want: r.ManifestDigest, Got: r.Digest})
		default:
			r.Status = StatusOK
		}
		if r.Rows > 0 {
			rep.Rows += r.Rows
		}
	}
	rep.Tables = results

	var extra []string
	for name, p := range present {
		if p.kind != "VIEW" && !inManifest[name] && !ignored[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		rep.Tables = append(rep.Tables, TableResult{Name: name, Status: TableExtra, ManifestRows: -1, Rows: -1})
		rep.Differences = append(rep.Differences, &MismatchError{Table: name, What: TableExtra, Got: "database"})
	}
	for _, v := range m.Views {
		if p, ok := present[v]; !ok || p.kind != "VIEW" {
			rep.Differences = append(rep.Differences, &MismatchError{Table: v, What: ViewMissing})
		}
	}

	if len(rep.Differences) > 0 {
		err := &DiffError{Database: schema, Differences: rep.Differences}
		rep.Failure = err.Error()
		return rep, err
	}
	rep.OK = true
	return rep, nil
}

// progressRows is how many rows pass between progress reports.
const progressRows = 1 << 16

// tableDigest reads every row of schema.table the way rowhash.Table does,
// telling progress about the rows read as it goes.
func tableDigest(ctx context.Context, conn *sql.Conn, schema, table string, progress func(rows int64)) (*rowhash.Digest, error) {
	cols, err := rowhash.Columns(ctx, conn, schema, table)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	rows, err := conn.QueryContext(ctx, "SELECT "+rowhash.SelectList(cols)+" FROM "+ident.Qualified(schema, table))
	if err != nil {
		return nil, fmt.Errorf("verify: reading %s: %w", ident.Quote(table), err)
	}
	defer rows.Close()
	n := len(rowhash.Stored(cols))
	vals := make([]sql.RawBytes, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	d := &rowhash.Digest{}
	var last int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("verify: reading %s: %w", ident.Quote(table), err)
		}
		d.AddRaw(vals)
		if d.Rows-last >= progressRows {
			progress(d.Rows - last)
			last = d.Rows
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify: reading %s: %w", ident.Quote(table), err)
	}
	progress(d.Rows - last)
	return d, nil
}
