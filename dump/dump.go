package dump

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// Progress receives reports while a dump runs. A nil Progress is a no-op.
// Calls never overlap.
type Progress interface {
	// Update reports how far the dump is.
	Update(s Status)
	// Warn reports something the user should read: a table outside the
	// snapshot, an ignore-list name that matches nothing.
	Warn(msg string)
}

// Status is a progress sample. The totals are information_schema estimates.
type Status struct {
	Table          string // table being written
	TablesDone     int
	Tables         int
	Rows           int64 // rows written so far
	RowsTotal      int64 // estimate
	DataBytes      int64 // raw row bytes written so far
	DataBytesTotal int64 // estimate (DATA_LENGTH)
	SQLBytes       int64 // uncompressed SQL written so far
}

// Options are the runtime parts of a dump that do not belong in Config.
type Options struct {
	Progress Progress
	// Passphrase yields the passphrase that encrypts the archive with age
	// (File and WriteArchive). It is called once, before the dump opens a
	// connection or a file, and only when the archive is encrypted
	// (Config.Encrypt, or a name ending in .age); then a nil Passphrase or
	// an empty answer is ErrNeedPassphrase, and its error is returned as
	// it is. Config.AskPassphrase asks it ahead of the dump.
	Passphrase func() (string, error)
	// ToolVersion is recorded in the dump header and the manifest.
	ToolVersion string
	// RowDigests, when set, receives the row digests file (see rows.go and
	// internal/chunk) of a Stream or WriteArchive; Result.RowDigests then
	// describes it. File ignores it and writes FILE.rows.zst itself.
	RowDigests io.Writer
	// changes receives a delta's changes file (File sets it).
	changes io.Writer
	// hooks are a test's callbacks (see hooks.go); nil outside tests.
	hooks *hooks
}

// Result describes a finished dump: what the manifest records. Its JSON
// (durations in seconds) is the body of `lamigrate dump --json`. Its lists
// are empty rather than nil (JSON []), Unmatched excepted.
type Result struct {
	Database string          `json:"database"`
	Server   manifest.Server `json:"server"`
	Started  time.Time       `json:"started"`
	// Seconds is how long the dump took, from its start to its completion
	// marker.
	Seconds  float64       `json:"seconds"`
	Tables   []TableResult `json:"tables"`
	Views    []string      `json:"views"`
	Triggers []string      `json:"triggers"`
	// Routines are the stored procedures and functions, Events the
	// events, in the order written (see routines.go).
	Routines []manifest.Object `json:"routines"`
	Events   []manifest.Object `json:"events"`
	// StripDefiners: the objects were written without DEFINER.
	StripDefiners bool `json:"strip_definers"`
	// Ignored lists tables and views present in the database and left out.
	Ignored []string `json:"ignored"`
	// IgnoreList is the effective ignore list.
	IgnoreList []string `json:"ignore_list"`
	// Unmatched lists ignore-list names that match nothing in the database.
	Unmatched []string `json:"unmatched_ignores,omitempty"`
	// DumpID identifies this run of the dump: 32 random hex digits,
	// written in the stream's header (DumpIDPrefix) and the manifest.
	DumpID string `json:"dump_id"`
	// SQL is the uncompressed stream before the completion marker.
	SQL manifest.Stream `json:"sql"`
	// Connections is how many connections read rows: more than one when
	// the user may LOCK TABLES (see Config.Connections).
	Connections int `json:"connections"`
	// File is set by File and WriteArchive: the archive and its manifest.
	File *FileResult `json:"archive,omitempty"`
	// RowDigests describes the row digests file, when one was written.
	RowDigests *RowDigests `json:"row_digests,omitempty"`
	// Delta is set for a delta (Config.Since): its base and what it holds.
	Delta *manifest.Delta `json:"delta,omitempty"`
}

// lists makes r's nil lists empty.
func (r *Result) lists() {
	for _, l := range []*[]string{&r.Views, &r.Triggers, &r.Ignored, &r.IgnoreList} {
		if *l == nil {
			*l = []string{}
		}
	}
	if r.Tables == nil {
		r.Tables = []TableResult{}
	}
	r.Routines, r.Events = nonNilObjects(r.Routines), nonNilObjects(r.Events)
}

// TableResult is one dumped base table.
type TableResult struct {
	Name   string `json:"name"`
	Engine string `json:"engine"`
	Rows   int64  `json:"rows"`
	// Bytes counts the SQL of its INSERT statements.
	Bytes int64 `json:"sql_bytes"`
	// Seconds is how long its rows took to read and write.
	Seconds float64 `json:"seconds"`
	// Digest is the rowhash digest of its rows.
	Digest string `json:"digest"`
	// Consistent: read inside the transactional snapshot.
	Consistent bool `json:"consistent"`
	// Definition is manifest.TableDefinition's digest of SHOW CREATE
	// TABLE, AutoIncrement its AUTO_INCREMENT counter (0: none).
	Definition    string `json:"definition"`
	AutoIncrement int64  `json:"auto_increment,omitempty"`
}

// TableError is a failure while dumping one table.
type TableError struct {
	Table string
	Err   error
}

func (e *TableError) Error() string {
	msg := e.Err.Error()
	var me *mysql.MySQLError
	if errors.As(e.Err, &me) {
		switch me.Number {
		case 1412:
			msg += " (the table was altered or re-created during the dump; run the dump again when nothing changes the schema)"
		case 1146:
			msg += " (the table was dropped during the dump)"
		}
	}
	if errors.Is(e.Err, syscall.ENOSPC) || errors.Is(e.Err, syscall.EDQUOT) {
		msg += " (the disk holding the output is full: free space or write the dump to another folder; the partial file was removed)"
	}
	if lostConnection(e.Err) {
		msg = "lost the connection to the server (" + msg + "): check that the server is running and that nothing between ends long transfers (a proxy's or firewall's idle timeout), then run the dump again"
	}
	return fmt.Sprintf("dump: table %s: %s", ident.Quote(e.Table), msg)
}

func (e *TableError) Unwrap() error { return e.Err }

// lostConnection says whether err is the connection to the server breaking
// (the driver reports a connection cut in the middle of a result as
// "invalid connection", the network as an unexpected EOF).
func lostConnection(err error) bool {
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, sql.ErrConnDone)
}

// tableInfo is one row of information_schema.TABLES.
type tableInfo struct {
	name, typ, engine string
	rows, data        int64
}

// Stream writes a consistent SQL dump of cfg.Database to w, reading over
// conn, which it uses exclusively: it sets the session (character set, time
// zone, sql_mode) and opens a REPEATABLE READ transaction WITH CONSISTENT
// SNAPSHOT that it rolls back at the end. The last line written is the
// completion marker. Stream never compresses (File does). On error the
// stream is incomplete (it has no marker) and conn may be unusable.
//
// Stream reads over conn alone; File also uses Config.Connections.
func Stream(ctx context.Context, conn *sql.Conn, w io.Writer, cfg Config, opt Options) (*Result, error) {
	return stream(ctx, nil, conn, w, cfg, opt, "")
}

// stream is Stream that may open extra connections of db, spilling into
// spillDir (see parallel.go).
func stream(ctx context.Context, db *sql.DB, conn *sql.Conn, w io.Writer, cfg Config, opt Options, spillDir string) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &dumper{cfg: cfg, conn: conn, db: db, spillDir: spillDir, toolVersion: opt.ToolVersion, rowsOut: opt.RowDigests, changesOut: opt.changes, hooks: opt.hooks}
	if opt.Progress != nil {
		d.prog = &lockedProgress{p: opt.Progress}
	}
	run := d.run
	if cfg.Since != "" {
		run = d.runDelta
	}
	res, err := run(ctx, w)
	if err != nil {
		return nil, err
	}
	res.lists()
	return res, nil
}

type dumper struct {
	cfg      Config
	conn     *sql.Conn
	db       *sql.DB // for extra connections; nil: conn only
	spillDir string  // where extra connections' spill files go
	helpers  []*sql.Conn
	spillCounters
	prog        Progress
	toolVersion string
	res         *Result
	status      Status
	rowsOut     io.Writer             // the row digests file; nil: none
	changesOut  io.Writer             // a delta's changes file
	lastUpdate  time.Time             // a delta's last progress report
	smu         sync.Mutex            // a delta's status, updated by its workers
	keys        map[string]*chunk.Key // each table's usable key
	hooks       *hooks                // a test's callbacks; nil: none
}

func (d *dumper) warn(format string, args ...any) {
	if d.prog != nil {
		d.prog.Warn(fmt.Sprintf(format, args...))
	}
}

func (d *dumper) exec(ctx context.Context, stmts ...string) error {
	return execOn(ctx, d.conn, stmts...)
}

func execOn(ctx context.Context, conn *sql.Conn, stmts ...string) error {
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("dump: %s: %w", s, err)
		}
	}
	return nil
}

func (d *dumper) run(ctx context.Context, w io.Writer) (*Result, error) {
	start := time.Now()
	db := d.cfg.Database
	d.res = &Result{Database: db, Started: start.UTC(), IgnoreList: d.cfg.IgnoreList(), StripDefiners: d.cfg.StripDefiners}
	// The session: what the stream is read in must match what its header
	// declares (utf8mb4, UTC) and what verify uses for the digests.
	// With one connection the snapshot starts first, as mysqldump's does;
	// with more it starts once the tables are known (see snapshot).
	parallel := d.db != nil && d.cfg.connections() > 1
	stmts := sessionSQL(db)
	if !parallel {
		stmts = append(stmts, startSnapshot)
		d.res.Connections = 1
	}
	if err := d.exec(ctx, stmts...); err != nil {
		return nil, err
	}
	defer d.releaseSnapshot(ctx)
	if err := d.server(ctx); err != nil {
		return nil, err
	}
	tables, views, err := d.list(ctx)
	if err != nil {
		return nil, err
	}
	triggers, err := d.triggers(ctx)
	if err != nil {
		return nil, err
	}
	if d.keys, err = chunk.Keys(ctx, d.conn, db); err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	units, err := d.plan(ctx, tables)
	if err != nil {
		return nil, err
	}
	if parallel {
		if err := d.snapshot(ctx, tables, units); err != nil {
			return nil, err
		}
		defer d.closeHelpers(ctx)
	}

	p, pctx := newPipe(ctx, w, &d.cfg, d)
	if d.rowsOut != nil {
		if p.rw, err = newRowWriter(d.rowsOut); err != nil {
			p.cancel()
			p.finish()
			return nil, err
		}
	}
	var s *sched
	if len(d.helpers) > 0 {
		s = newSched(pctx, units, d.hooks.spillLimit())
		for _, c := range d.helpers {
			p.g.Go(func() error { return d.helper(pctx, c, s, triggers) })
		}
	}
	perr := d.produce(pctx, p, s, units, views, triggers)
	if perr != nil {
		p.cancel()
	}
	werr := p.finish()
	if s != nil {
		s.closeAll()
		d.hooks.spilled(s.peak)
	}
	if err := pipeError(ctx, perr, werr); err != nil {
		return nil, err
	}
	if p.rw != nil {
		if err := p.rw.close(); err != nil {
			return nil, err
		}
		d.res.RowDigests = &p.rw.res
	}
	// The completion marker covers every byte before it.
	d.res.SQL = manifest.StreamOf(p.hw.n, p.hw.h)
	if _, err := io.WriteString(w, d.res.SQL.Marker()); err != nil {
		return nil, fmt.Errorf("dump: writing completion marker: %w", err)
	}
	d.res.Seconds = time.Since(start).Seconds()
	return d.res, nil
}

// releaseSnapshot ends the main connection's transaction; on a dead
// connection this fails quietly and the caller closes it.
func (d *dumper) releaseSnapshot(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	d.conn.ExecContext(rctx, "ROLLBACK")
}

// pipeError is the dump's error after its reading side returned perr and
// its pipe's writer werr: an interruption (naming the table being read),
// the reading side's failure (which stopped the writer), or the writer's.
func pipeError(ctx context.Context, perr, werr error) error {
	switch {
	case ctx.Err() != nil:
		var te *TableError
		if errors.As(perr, &te) || errors.As(werr, &te) {
			return &TableError{Table: te.Table, Err: fmt.Errorf("interrupted: %w", ctx.Err())}
		}
		return fmt.Errorf("dump: interrupted: %w", ctx.Err())
	case perr != nil && (werr == nil || errors.Is(werr, context.Canceled)):
		return perr
	}
	return werr
}

func (d *dumper) server(ctx context.Context) error {
	var version, comment, host, gtz, stz sql.NullString
	err := d.conn.QueryRowContext(ctx, "SELECT VERSION(), @@version_comment, @@hostname, @@global.time_zone, @@system_time_zone").
		Scan(&version, &comment, &host, &gtz, &stz)
	if err != nil {
		return fmt.Errorf("dump: reading server version: %w", err)
	}
	s := manifest.Server{Version: version.String, Flavor: "mysql", Host: host.String, TimeZone: gtz.String}
	if strings.Contains(strings.ToLower(version.String+comment.String), "mariadb") {
		s.Flavor = "mariadb"
	}
	if s.TimeZone == "SYSTEM" && stz.String != "" {
		s.TimeZone = "SYSTEM (" + stz.String + ")"
	}
	d.res.Server = s
	return nil
}

// list reads the schema's tables and views and applies the ignore list.
func (d *dumper) list(ctx context.Context) (tables, views []tableInfo, err error) {
	db := d.cfg.Database
	rows, err := d.conn.QueryContext(ctx, `SELECT TABLE_NAME, TABLE_TYPE, COALESCE(ENGINE, ''),
		COALESCE(TABLE_ROWS, 0), COALESCE(DATA_LENGTH, 0)
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?`, db)
	if err != nil {
		return nil, nil, fmt.Errorf("dump: listing tables of %s: %w", ident.Quote(db), err)
	}
	defer rows.Close()
	var all []tableInfo
	for rows.Next() {
		var t tableInfo
		if err := rows.Scan(&t.name, &t.typ, &t.engine, &t.rows, &t.data); err != nil {
			return nil, nil, fmt.Errorf("dump: listing tables: %w", err)
		}
		all = append(all, t)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("dump: listing tables: %w", err)
	}
	rows.Close()
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })

	present := map[string]bool{}
	for _, t := range all {
		present[t.name] = true
	}
	ignored := map[string]bool{}
	explicit := map[string]bool{}
	for _, n := range d.cfg.IgnoreTables {
		explicit[n] = true
	}
	for _, n := range d.res.IgnoreList {
		name := n
		if !present[name] {
			name = ignoreName(db, n)
		}
		if name != "" && present[name] {
			ignored[name] = true
			continue
		}
		d.res.Unmatched = append(d.res.Unmatched, n)
		if explicit[n] {
			d.warn("ignore-table %s matches no table or view in %s", n, ident.Quote(db))
		}
	}
	for _, t := range all {
		if ignored[t.name] {
			d.res.Ignored = append(d.res.Ignored, t.name)
			continue
		}
		switch t.typ {
		case "VIEW":
			views = append(views, t)
		case "SEQUENCE":
			return nil, nil, fmt.Errorf("dump: %s is a SEQUENCE, which this dumper does not support; ignore it with --ignore-table", ident.Quote(t.name))
		default: // BASE TABLE, SYSTEM VERSIONED
			tables = append(tables, t)
			d.status.RowsTotal += t.rows
			d.status.DataBytesTotal += t.data
		}
	}
	d.status.Tables = len(tables)
	return tables, views, nil
}

type trigger struct {
	name, table string
}

// triggers lists the schema's triggers in the order they fire.
func (d *dumper) triggers(ctx context.Context) (map[string][]string, error) {
	rows, err := d.conn.QueryContext(ctx, `SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`, d.cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("dump: listing triggers: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var t trigger
		if err := rows.Scan(&t.name, &t.table); err != nil {
			return nil, fmt.Errorf("dump: listing triggers: %w", err)
		}
		out[t.table] = append(out[t.table], t.name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dump: listing triggers: %w", err)
	}
	return out, nil
}

// showCreateOn runs a SHOW CREATE statement and returns its columns by name.
func showCreateOn(ctx context.Context, conn *sql.Conn, q string) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s returned nothing", q)
	}
	vals := make([]sql.NullString, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, n := range names {
		out[strings.ToLower(n)] = vals[i].String
	}
	return out, rows.Err()
}

// comment writes a mysqldump-style three-line comment block.
func comment(b []byte, text string) []byte {
	text = strings.ReplaceAll(text, "\n", "\n-- ")
	return append(b, "\n--\n-- "+text+"\n--\n\n"...)
}

// DumpIDPrefix starts the header's second line, which identifies the run
// of the dump: DumpIDPrefix, 32 hex digits (128 random bits), a newline.
const DumpIDPrefix = "-- lamigrate dump id "

// header is the stream's first lines. It draws the run's id (once per
// dump: only the main connection writes the header) into Result.DumpID.
func (d *dumper) header() []byte {
	var b []byte
	tool := "lamigrate"
	if d.toolVersion != "" {
		tool += " " + d.toolVersion
	}
	if d.res.DumpID == "" {
		var id [16]byte
		rand.Read(id[:]) // never fails (crypto/rand)
		d.res.DumpID = hex.EncodeToString(id[:])
	}
	if d.cfg.Since != "" {
		b = append(b, "-- "+tool+" delta dump (mysqldump-compatible; load with the mariadb/mysql client after its base)\n"...)
	} else {
		b = append(b, "-- "+tool+" dump (mysqldump-compatible; load with the mariadb/mysql client)\n"...)
	}
	b = append(b, DumpIDPrefix+d.res.DumpID+"\n--\n"...)
	b = append(b, "-- Host: "+strings.ReplaceAll(d.res.Server.Host, "\n", " ")+"    Database: "+strings.ReplaceAll(d.cfg.Database, "\n", " ")+"\n"...)
	b = append(b, "-- ------------------------------------------------------\n"...)
	b = append(b, "-- Server version\t"+d.res.Server.Version+"\n\n"...)
	b = append(b, `/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
`...)
	// A delta's REPLACE needs unique checks: with them off InnoDB may
	// not find the row a changed unique value collides with.
	if d.cfg.Since != "" {
		b = append(b, "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=1 */;\n"...)
	} else {
		b = append(b, "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n"...)
	}
	b = append(b, `/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
`...)
	return b
}

const footer = `/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

`

// produce reads the schema and rows and queues the output in order.
func (d *dumper) produce(ctx context.Context, p *pipe, s *sched, units []*unit, views []tableInfo, triggers map[string][]string) error {
	if err := p.text(ctx, d.header()); err != nil {
		return err
	}
	for i, u := range units {
		name := u.t.name
		if u.last() {
			d.res.Triggers = append(d.res.Triggers, triggers[name]...)
		}
		if s != nil {
			if sp := s.main(i); sp != nil {
				// An extra connection reads it; the writer copies its spill.
				if err := p.put(ctx, item{spill: sp}); err != nil {
					return err
				}
				continue
			}
		}
		if err := d.unit(ctx, d.conn, p, u, triggers[name]); err != nil {
			var te *TableError
			if errors.As(err, &te) {
				return err
			}
			return &TableError{Table: name, Err: err}
		}
	}
	if err := d.routines(ctx, p); err != nil {
		return err
	}
	if err := d.views(ctx, p, views); err != nil {
		return err
	}
	tail := append([]byte(footer), "-- Dump completed on "+time.Now().UTC().Format("2006-01-02 15:04:05")+" UTC\n"...)
	return p.text(ctx, tail)
}

func consistentEngine(engine string) bool {
	switch strings.ToLower(engine) {
	case "innodb", "xtradb", "rocksdb", "tokudb":
		return true
	}
	return false
}

// unit dumps one unit of a base table (see plan): the structure if it is
// the table's first, its rows, and the trailer and triggers if it is the
// last.
func (d *dumper) unit(ctx context.Context, conn *sql.Conn, p sink, u *unit, triggers []string) error {
	t := u.t
	q := ident.Quote(t.name)
	// A savepoint lets the metadata lock go after the table is read, as
	// mysqldump does, so DDL on tables already dumped is not blocked.
	if err := execOn(ctx, conn, "SAVEPOINT lamigrate_sp"); err != nil {
		return err
	}
	var b []byte
	var create string
	if u.first() {
		sc, err := showCreateOn(ctx, conn, "SHOW CREATE TABLE "+q)
		if err != nil {
			return err
		}
		create = sc["create table"]
		if create == "" {
			return fmt.Errorf("SHOW CREATE TABLE returned no statement")
		}
		b = comment(b, "Table structure for table "+q)
		b = append(b, create...)
		b = append(b, ";\n"...)
		b = comment(b, "Dumping data for table "+q)
		if d.cfg.AddLocks {
			b = append(b, "LOCK TABLES "+q+" WRITE;\n"...)
		}
		b = append(b, "/*!40000 ALTER TABLE "+q+" DISABLE KEYS */;\n"...)
	}
	cols, err := rowhash.Columns(ctx, conn, d.cfg.Database, t.name)
	if err != nil {
		return err
	}
	stored := rowhash.Stored(cols)
	job := &tableJob{name: t.name, start: time.Now(), unit: u, record: d.rowsOut != nil, key: d.keys[t.name],
		res: TableResult{Name: t.name, Engine: t.engine, Consistent: consistentEngine(t.engine)}}
	if create != "" {
		job.res.Definition, job.res.AutoIncrement = manifest.TableDefinition(create)
	}
	order := ""
	if job.key != nil {
		// Key order: the row digests file lists rows in it, and for InnoDB
		// it is the clustered index's order, so it costs no sort. A key
		// with a generated column is not usable.
		if job.keyPos, err = job.key.Positions(stored); err != nil {
			job.key = nil
		} else {
			order = job.key.OrderBy()
		}
	}
	if !job.res.Consistent {
		d.warn("table %s uses the %s engine: it is dumped outside the consistent snapshot (convert it to InnoDB, or make sure nothing writes to it during the dump)", q, t.engine)
	}
	job.kinds = make([]kind, len(stored))
	prefix := []byte("INSERT INTO " + q + " (")
	for i, c := range stored {
		job.kinds[i] = kindOf(c.DataType)
		if i > 0 {
			prefix = append(prefix, ", "...)
		}
		prefix = append(prefix, ident.Quote(c.Name)...)
	}
	job.prefix = append(prefix, ") VALUES "...)

	if len(b) > 0 {
		if err := p.text(ctx, b); err != nil {
			return err
		}
	}
	if err := p.begin(ctx, job); err != nil {
		return err
	}
	d.hooks.beforeRowsOf(ctx, conn, t.name)
	if len(stored) > 0 {
		if err := rows(ctx, conn, p, job, "SELECT "+rowhash.SelectList(cols)+" FROM "+q+u.where+order); err != nil {
			return err
		}
	}
	if err := p.end(ctx, job); err != nil {
		return err
	}
	if !u.last() {
		return execOn(ctx, conn, "ROLLBACK TO SAVEPOINT lamigrate_sp")
	}
	b = []byte("/*!40000 ALTER TABLE " + q + " ENABLE KEYS */;\n")
	if d.cfg.AddLocks {
		b = append(b, "UNLOCK TABLES;\n"...)
	}
	tb, err := d.triggerSQL(ctx, conn, triggers)
	if err != nil {
		return err
	}
	b = append(b, tb...)
	if err := p.text(ctx, b); err != nil {
		return err
	}
	return execOn(ctx, conn, "ROLLBACK TO SAVEPOINT lamigrate_sp")
}

// triggerSQL is the SQL that makes the triggers, as mysqldump writes it.
func (d *dumper) triggerSQL(ctx context.Context, conn *sql.Conn, triggers []string) ([]byte, error) {
	var b []byte
	for _, tr := range triggers {
		sc, err := showCreateOn(ctx, conn, "SHOW CREATE TRIGGER "+ident.Quote(tr))
		if err != nil {
			return nil, fmt.Errorf("trigger %s: %w", ident.Quote(tr), err)
		}
		stmt := d.definer(sc["sql original statement"])
		b = append(b, "/*!50003 SET @saved_col_connection = @@collation_connection */ ;\n"...)
		if coll := sc["collation_connection"]; coll != "" {
			b = append(b, "/*!50003 SET collation_connection  = "+coll+" */ ;\n"...)
		}
		b = append(b, "/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;\n"...)
		b = append(b, "/*!50003 SET sql_mode              = "+ident.String(sc["sql_mode"])+" */ ;\n"...)
		b = append(b, "DELIMITER ;;\n"...)
		b = append(b, stmt...)
		b = append(b, " ;;\nDELIMITER ;\n"...)
		b = append(b, "/*!50003 SET sql_mode              = @saved_sql_mode */ ;\n"...)
		b = append(b, "/*!50003 SET collation_connection  = @saved_col_connection */ ;\n"...)
	}
	return b, nil
}

// rows reads the table's rows and queues them in batches.
func rows(ctx context.Context, conn *sql.Conn, p sink, job *tableJob, q string) error {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := len(job.kinds)
	vals := make([]sql.RawBytes, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	b := p.newBatch(job, n)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		size := 0
		for _, v := range vals {
			size += len(v)
		}
		if size >= bigRowBytes {
			// Rows before it go first; it goes alone (see bigRowBytes).
			if b.nrows > 0 {
				if err := p.send(ctx, b); err != nil {
					return err
				}
				b = p.newBatch(job, n)
			}
			if err := p.row(ctx, job, vals, size); err != nil {
				return err
			}
			continue
		}
		b.add(vals, size)
		if len(b.data) >= batchBytes || b.nrows >= batchRows {
			if err := p.send(ctx, b); err != nil {
				return err
			}
			b = p.newBatch(job, n)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if b.nrows > 0 {
		return p.send(ctx, b)
	}
	return nil
}

// views writes the views after all tables, each after the views it reads.
func (d *dumper) views(ctx context.Context, p *pipe, views []tableInfo) error {
	type view struct {
		name, stmt, coll string
		deps             []string
	}
	vs := make([]*view, 0, len(views))
	byName := map[string]*view{}
	for _, v := range views {
		sc, err := showCreateOn(ctx, d.conn, "SHOW CREATE VIEW "+ident.Quote(v.name))
		if err != nil {
			return fmt.Errorf("dump: view %s: %w", ident.Quote(v.name), err)
		}
		x := &view{name: v.name, stmt: d.definer(sc["create view"]), coll: sc["collation_connection"]}
		vs = append(vs, x)
		byName[v.name] = x
	}
	// A view depends on every other view whose quoted name its definition
	// mentions. A false match (the name inside a string) only reorders.
	for _, x := range vs {
		body := x.stmt
		if i := strings.Index(body, " AS "); i >= 0 {
			body = body[i:]
		}
		for _, y := range vs {
			if y != x && strings.Contains(body, ident.Quote(y.name)) {
				x.deps = append(x.deps, y.name)
			}
		}
	}
	done := map[string]bool{}
	visiting := map[string]bool{}
	var order []*view
	var visit func(x *view)
	visit = func(x *view) {
		if done[x.name] || visiting[x.name] {
			return
		}
		visiting[x.name] = true
		for _, dep := range x.deps {
			visit(byName[dep])
		}
		visiting[x.name] = false
		done[x.name] = true
		order = append(order, x)
	}
	for _, x := range vs {
		visit(x)
	}
	for _, x := range order {
		q := ident.Quote(x.name)
		var b []byte
		b = comment(b, "Final view structure for view "+q)
		b = append(b, "/*!50001 SET @saved_col_connection     = @@collation_connection */;\n"...)
		if x.coll != "" {
			b = append(b, "/*!50001 SET collation_connection      = "+x.coll+" */;\n"...)
		}
		b = append(b, x.stmt...)
		b = append(b, ";\n/*!50001 SET collation_connection      = @saved_col_connection */;\n"...)
		if err := p.text(ctx, b); err != nil {
			return err
		}
		d.res.Views = append(d.res.Views, x.name)
	}
	return nil
}

// hashWriter counts and hashes what passes through to w.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func newHashWriter(w io.Writer, h hash.Hash) *hashWriter { return &hashWriter{w: w, h: h} }

func (h *hashWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// lockedProgress serialises calls from the reading and writing goroutines.
type lockedProgress struct {
	mu sync.Mutex
	p  Progress
}

func (l *lockedProgress) Update(s Status) { l.mu.Lock(); defer l.mu.Unlock(); l.p.Update(s) }
func (l *lockedProgress) Warn(msg string) { l.mu.Lock(); defer l.mu.Unlock(); l.p.Warn(msg) }
