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

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// Table statuses in a DatabaseReport.
const (
	StatusOK = "ok"
	// StatusUnchecked: the check stopped (DatabaseReport.Failure says
	// why) before it read the whole table.
	StatusUnchecked = "unchecked"
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
	// Routines and Events count the stored procedures and functions, and
	// the events, found in the database (checked when the manifest lists
	// them).
	Routines int `json:"routines"`
	Events   int `json:"events"`
	// Notes are facts that are not differences: a routine or event whose
	// DEFINER is not the source's; that the manifest is a delta's (the
	// check then compares the full state base and delta make).
	Notes   []string `json:"notes,omitempty"`
	OK      bool     `json:"ok"`
	Failure string   `json:"failure,omitempty"`
	Seconds float64  `json:"seconds"`
}

// DefaultConnections is how many connections Database reads over by
// default: on 2 cores a 1 GB database verified in 1.7 s over 4 against
// 2.3 s over 2 (the server reads pages on one thread per connection).
const DefaultConnections = 4

// Database proves that the database db is connected to (or opt.Schema)
// holds what manifest m records: for each of m's tables it reads every row
// once, recomputing the row count and rowhash content digest (insensitive
// to row order, sensitive to any value, NULL versus the empty string included), over
// opt.Connections connections in parallel, biggest table first. Base tables
// in the database that m neither lists nor ignores are differences too.
//
// It always returns its report, filled as far as the check got. A check
// that ran to the end returns it OK, or, when anything differs, with a
// *DiffError listing every *MismatchError. Other errors (a lost connection,
// missing privileges) stop the check without a verdict: the report, not
// OK, has Failure set to the error, the tables read whole with their
// status (and a difference for each that differs), and the others
// StatusUnchecked, never a difference for what could not be read.
//
// A connection lost during the check (the server gone or restarted, the
// network cut) is such an error: it says so, and that there is no verdict.
func Database(ctx context.Context, db *sql.DB, m *Manifest, opt Options) (*DatabaseReport, error) {
	start := time.Now()
	rep := &DatabaseReport{Database: opt.Schema, Tables: []TableResult{}, Differences: []*MismatchError{}}
	err := database(ctx, db, m, opt, rep)
	if err != nil && lostConnection(err) {
		err = &connLostError{err}
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.OK = err == nil
	if err != nil {
		rep.Failure = err.Error()
	}
	return rep, err
}

// database runs the check of Database into rep.
func database(ctx context.Context, db *sql.DB, m *Manifest, opt Options, rep *DatabaseReport) error {
	if m == nil {
		return fmt.Errorf("verify: a database check needs the dump's manifest")
	}
	schema := opt.Schema
	if schema == "" {
		var cur sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&cur); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if !cur.Valid || cur.String == "" {
			return fmt.Errorf("verify: no database selected: name it in the DSN")
		}
		schema = cur.String
	}
	rep.Database = schema
	// One result per manifest table, in manifest order, unchecked until
	// the table is found missing or read whole.
	results := make([]TableResult, len(m.Tables))
	for i, t := range m.Tables {
		results[i] = TableResult{Name: t.Name, Status: StatusUnchecked, ManifestRows: t.Rows, ManifestDigest: t.Digest, Rows: -1}
	}
	rep.Tables = results

	type info struct {
		kind string
		size int64
	}
	present := map[string]info{}
	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME, TABLE_TYPE, COALESCE(DATA_LENGTH, 0)
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?`, schema)
	if err != nil {
		return fmt.Errorf("verify: listing tables of %s: %w", ident.Quote(schema), err)
	}
	for rows.Next() {
		var name, kind string
		var size int64
		if err := rows.Scan(&name, &kind, &size); err != nil {
			rows.Close()
			return fmt.Errorf("verify: listing tables of %s: %w", ident.Quote(schema), err)
		}
		present[name] = info{kind, size}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: listing tables of %s: %w", ident.Quote(schema), err)
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

	var jobs []int
	var total int64
	inManifest := map[string]bool{}
	for i, t := range m.Tables {
		inManifest[t.Name] = true
		if p, ok := present[t.Name]; !ok || p.kind == "VIEW" {
			results[i].Status = TableMissing
			continue
		}
		jobs = append(jobs, i)
		total += t.Rows
	}
	// Read the tables, biggest first, over n connections. A table bigger
	// than its share is read in primary-key ranges, so that no single
	// table keeps one connection busy while the others idle.
	n := opt.Connections
	if n <= 0 {
		n = DefaultConnections
	}
	var size int64
	for _, j := range jobs {
		size += present[m.Tables[j].Name].size
	}
	type part struct {
		table int
		where string
		size  int64
	}
	var parts []part
	for _, j := range jobs {
		name := m.Tables[j].Name
		ts := present[name].size
		k := 1
		if share := size / int64(2*n); n > 1 && share > 0 && ts > share && ts >= opt.splitFrom() {
			k = int(min((ts+share-1)/share, 8))
		}
		var wheres []string
		if k > 1 {
			r, err := chunk.Split(ctx, db, schema, name, k)
			if err != nil {
				return fmt.Errorf("verify: key ranges of %s: %w", ident.Quote(name), err)
			}
			for i := range r.Len() {
				if w := r.Where(i); w != "" {
					wheres = append(wheres, w)
				}
			}
		}
		if len(wheres) == 0 {
			wheres = []string{""}
		}
		for _, w := range wheres {
			parts = append(parts, part{table: j, where: w, size: ts / int64(len(wheres))})
		}
	}
	sort.SliceStable(parts, func(a, b int) bool { return parts[a].size > parts[b].size })
	// left counts each table's parts not yet read: 0 once it is read whole.
	left := make([]int, len(m.Tables))
	for _, p := range parts {
		left[p.table]++
	}

	digests := make([]rowhash.Digest, len(m.Tables))
	var mu sync.Mutex
	n = min(n, len(parts))
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
	next := make(chan part)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(next)
		for _, p := range parts {
			select {
			case next <- p:
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
			for p := range next {
				t0 := time.Now()
				name := m.Tables[p.table].Name
				d, err := tableDigest(gctx, conn, schema, name, p.where, func(rows int64) {
					done.Add(rows)
					report(name)
				})
				if err != nil {
					return err
				}
				mu.Lock()
				digests[p.table].Merge(d)
				results[p.table].Seconds += time.Since(t0).Seconds()
				left[p.table]--
				mu.Unlock()
			}
			return nil
		})
	}
	// A failure stops the reading; the tables read whole are judged all
	// the same, the others stay unchecked.
	readErr := g.Wait()
	whole := make([]bool, len(m.Tables))
	for _, j := range jobs {
		if left[j] == 0 {
			whole[j] = true
			results[j].Rows, results[j].Digest = digests[j].Rows, digests[j].String()
		}
	}
	if readErr == nil {
		report("")
	}

	for i := range results {
		r := &results[i]
		switch {
		case r.Status == TableMissing:
			rep.Differences = append(rep.Differences, &MismatchError{Table: r.Name, What: TableMissing, Got: "database"})
		case !whole[i]:
			// Unchecked.
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
	if readErr != nil {
		return readErr
	}

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
	if len(m.Triggers) > 0 {
		have, err := triggerNames(ctx, db, schema)
		if err != nil {
			return err
		}
		for _, tr := range m.Triggers {
			if !have[tr] {
				rep.Differences = append(rep.Differences, &MismatchError{Table: tr, What: TriggerMissing})
			}
		}
	}
	// A manifest from before routines were dumped has none listed (nil):
	// it says nothing about them.
	if m.Routines != nil {
		if err := checkPrograms(ctx, db, schema, m.Routines, false, rep); err != nil {
			return err
		}
	}
	if m.Events != nil {
		if err := checkPrograms(ctx, db, schema, m.Events, true, rep); err != nil {
			return err
		}
	}

	if d := m.Delta; d != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the manifest is a delta's (since %s, dumped %s): its tables, views, triggers, routines and events are the full state base and delta make, and every row of every table was read and compared with it, unchanged rows included",
			d.Base.Archive, d.Base.Created.UTC().Format(time.DateTime+" UTC")))
	}

	if len(rep.Differences) > 0 {
		return &DiffError{Database: schema, Differences: rep.Differences}
	}
	return nil
}

// defaultMinSplit is the smallest table read in ranges.
const defaultMinSplit = 32 << 20

// splitFrom is the smallest table read in ranges: defaultMinSplit unless a
// test set Options.minSplit.
func (o Options) splitFrom() int64 {
	if o.minSplit > 0 {
		return o.minSplit
	}
	return defaultMinSplit
}

// progressRows is how many rows pass between progress reports.
const progressRows = 1 << 16

// tableDigest reads every row of schema.table the way rowhash.Table does,
// telling progress about the rows read as it goes.
func tableDigest(ctx context.Context, conn *sql.Conn, schema, table, where string, progress func(rows int64)) (*rowhash.Digest, error) {
	cols, err := rowhash.Columns(ctx, conn, schema, table)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	q := "SELECT " + rowhash.SelectList(cols) + " FROM " + ident.Qualified(schema, table)
	if where != "" {
		q += " WHERE " + where
	}
	rows, err := conn.QueryContext(ctx, q)
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
