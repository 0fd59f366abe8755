package dump

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// A delta (Config.Since) holds only what changed since a base dump: it is
// read in one snapshot over one connection, every row is digested as a full
// dump digests it (the row digest contract of internal/chunk) and compared,
// in key order, with the base's row digests file; only rows whose digest
// differs, new rows and vanished keys are written. See doc.go, "Deltas".

// ErrBase reports a --since manifest that cannot serve as a base.
var ErrBase = errors.New("dump: unusable base")

// ErrNotQuiet reports a table written after the delta's snapshot.
var ErrNotQuiet = errors.New("dump: written during the dump")

// maxPending bounds the bytes of rows a delta holds while it has not yet
// seen whether the base has them (string keys, whose order the dump cannot
// compare: see diffTable). Beyond it the oldest is written speculatively.
const maxPending = 64 << 20

// base is the dump a delta is taken against.
type base struct {
	m        *manifest.Manifest
	path     string // the manifest's path
	sha      string // SHA-256 of the manifest's bytes
	rowsPath string
	tables   map[string]*manifest.Table
}

// openBase reads and checks the base manifest named by Config.Since.
func openBase(path, database string) (*base, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBase, err)
	}
	m, err := manifest.Parse(raw, path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBase, err)
	}
	newBase := "take a new full dump (lamigrate dump) as the base and push it first"
	if m.RowDigests == nil {
		return nil, fmt.Errorf("%w: %s has no row digests (it was written by an older lamigrate, or by dump -o sftp://): %s", ErrBase, path, newBase)
	}
	if m.RowDigests.Contract != chunk.Version || m.RowDigests.TimeZone != chunk.TimeZone || m.RowDigests.Charset != chunk.Charset {
		return nil, fmt.Errorf("%w: %s records row digests of contract %s (%s, %s); this lamigrate compares %s (%s, %s): %s", ErrBase, path,
			m.RowDigests.Contract, m.RowDigests.TimeZone, m.RowDigests.Charset, chunk.Version, chunk.TimeZone, chunk.Charset, newBase)
	}
	if m.Database != database {
		return nil, fmt.Errorf("%w: %s describes a dump of database %s, not %s: pass the manifest of a dump of %s", ErrBase, path, ident.Quote(m.Database), ident.Quote(database), ident.Quote(database))
	}
	b := &base{m: m, path: path, tables: map[string]*manifest.Table{}}
	for i := range m.Tables {
		t := &m.Tables[i]
		if t.Definition == "" {
			return nil, fmt.Errorf("%w: %s does not record table definitions (written by an older lamigrate): %s", ErrBase, path, newBase)
		}
		b.tables[t.Name] = t
	}
	h := sha256.Sum256(raw)
	b.sha = hex.EncodeToString(h[:])
	b.rowsPath = filepath.Join(filepath.Dir(path), m.RowDigests.Name)
	return b, nil
}

// baseRows reads the base's row digests file and checks its SHA-256 at the
// end against the manifest.
type baseRows struct {
	f    *os.File
	h    *hashWriter
	r    *chunk.Reader
	head *chunk.Table // the table NextTable returned last, rows unread
	eof  bool
}

func (b *base) openRows() (*baseRows, error) {
	f, err := os.Open(b.rowsPath)
	if err != nil {
		return nil, fmt.Errorf("%w: the base's row digests: %v (they are written beside the base archive; copy %s beside %s)", ErrBase, err, filepath.Base(b.rowsPath), b.path)
	}
	h := newHashWriter(io.Discard, sha256.New())
	r, err := chunk.NewReader(io.TeeReader(f, h))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrBase, b.rowsPath, err)
	}
	return &baseRows{f: f, h: h, r: r}, nil
}

func (br *baseRows) close() {
	br.r.Close()
	br.f.Close()
}

// seek positions the reader at table name, skipping the tables before it
// (in dump order, which is name order); it returns nil when the base file
// does not list the table.
func (br *baseRows) seek(name string) (*chunk.Table, error) {
	for {
		if br.head == nil && !br.eof {
			t, err := br.r.NextTable()
			if errors.Is(err, io.EOF) {
				br.eof = true
			} else if err != nil {
				return nil, err
			}
			br.head = t
		}
		if br.eof || br.head.Name > name {
			return nil, nil
		}
		t := br.head
		if t.Name == name {
			br.head = nil
			return t, nil
		}
		if err := br.skip(); err != nil {
			return nil, err
		}
	}
}

// skip reads the rest of the current head table.
func (br *baseRows) skip() error {
	for {
		_, ok, err := br.r.NextRow()
		if err != nil {
			return err
		}
		if !ok {
			br.head = nil
			return nil
		}
	}
}

// finish reads the file to its end and checks its hash.
func (br *baseRows) finish(want string) error {
	if br.head != nil {
		if err := br.skip(); err != nil {
			return err
		}
	}
	for !br.eof {
		if _, err := br.seek("\xff\xff\xff\xff"); err != nil {
			return err
		}
		if br.head != nil {
			if err := br.skip(); err != nil {
				return err
			}
		}
	}
	io.Copy(br.h, br.f)
	if got := hex.EncodeToString(br.h.h.Sum(nil)); got != want {
		return fmt.Errorf("%w: the base's row digests file %s does not match its manifest (SHA-256 %s, the manifest says %s): it was changed or replaced", ErrBase, br.f.Name(), got, want)
	}
	return nil
}

// quietMarks is what the server says about writes at one moment: the
// global count of row writes to non-temporary tables (Handler_write,
// _update, _delete) and each table's UPDATE_TIME.
type quietMarks struct {
	writes  int64
	now     string // the server's clock, to the second
	updated map[string]string
}

func readQuietMarks(ctx context.Context, conn *sql.Conn, db string) (*quietMarks, error) {
	q := &quietMarks{updated: map[string]string{}}
	rows, err := conn.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Handler_write', 'Handler_update', 'Handler_delete')")
	if err != nil {
		return nil, fmt.Errorf("dump: reading the server's write counters: %w", err)
	}
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dump: reading the server's write counters: %w", err)
		}
		q.writes += v
	}
	rows.Close()
	if err := conn.QueryRowContext(ctx, "SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s')").Scan(&q.now); err != nil {
		return nil, fmt.Errorf("dump: reading the server's clock: %w", err)
	}
	rows, err = conn.QueryContext(ctx, `SELECT TABLE_NAME, COALESCE(DATE_FORMAT(UPDATE_TIME, '%Y-%m-%d %H:%i:%s'), '')
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW'`, db)
	if err != nil {
		return nil, fmt.Errorf("dump: reading the tables' update times: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, t string
		if err := rows.Scan(&name, &t); err != nil {
			return nil, fmt.Errorf("dump: reading the tables' update times: %w", err)
		}
		q.updated[name] = t
	}
	return q, rows.Err()
}

// quietStart reads the marks before the snapshot. UPDATE_TIME counts
// seconds: a table written in the current second could be written again
// in it unseen, so while one is, it waits for the next second (at most
// three times).
func (d *dumper) quietStart(ctx context.Context) (*quietMarks, error) {
	for i := 0; ; i++ {
		q, err := readQuietMarks(ctx, d.conn, d.cfg.Database)
		if err != nil || i == 3 {
			return q, err
		}
		busy := false
		for _, u := range q.updated {
			if u >= q.now {
				busy = true
			}
		}
		if !busy {
			return q, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// quiet compares the marks taken before the snapshot with now: nothing on
// the server wrote a row (the counters did not move), or, when something
// did, none of the dumped tables' update times moved and none was updated
// in the second the snapshot started (a write then could hide in the same
// second). It names the tables that may have been written.
func quiet(before, after *quietMarks, tables []string) error {
	if after.writes == before.writes {
		return nil
	}
	start := before.now
	var hit []string
	for _, t := range tables {
		b, a := before.updated[t], after.updated[t]
		if a != b || (a != "" && a >= start) {
			hit = append(hit, fmt.Sprintf("%s (updated %s)", ident.Quote(t), a))
		}
	}
	if len(hit) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s may have been written after the delta's snapshot (the server counted %d row writes during the dump): rows committed then would be lost; make sure the help desk is isolated and drained (lamigrate isolate, drain, cron off) and dump again, or pass --live for a pre-copy delta that needs no such proof",
		ErrNotQuiet, strings.Join(hit, ", "), after.writes-before.writes)
}

// deltaOut is the delta's companion outputs: the full row digests file and
// the changes file.
type deltaOut struct {
	rows    *rowWriter
	chw     *hashWriter
	changes *chunk.ChangesWriter
	delta   manifest.Delta
}

// runDelta is run for Config.Since: one connection, one snapshot.
func (d *dumper) runDelta(ctx context.Context, w io.Writer) (*Result, error) {
	start := time.Now()
	db := d.cfg.Database
	d.res = &Result{Database: db, Started: start.UTC(), IgnoreList: d.cfg.IgnoreList(), StripDefiners: d.cfg.StripDefiners, Connections: 1}
	if d.rowsOut == nil || d.changesOut == nil {
		return nil, fmt.Errorf("%w: a delta is written by File only", ErrConfig)
	}
	b, err := openBase(d.cfg.Since, db)
	if err != nil {
		return nil, err
	}
	br, err := b.openRows()
	if err != nil {
		return nil, err
	}
	defer br.close()
	if err := d.exec(ctx, sessionSQL(db)...); err != nil {
		return nil, err
	}
	var before *quietMarks
	if !d.cfg.Live {
		if before, err = d.quietStart(ctx); err != nil {
			return nil, err
		}
	}
	if err := d.exec(ctx, startSnapshot); err != nil {
		return nil, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		d.conn.ExecContext(rctx, "ROLLBACK")
	}()
	if err := d.server(ctx); err != nil {
		return nil, err
	}
	if bs := b.m.Server; bs.Host != d.res.Server.Host && bs.Host != "" {
		return nil, fmt.Errorf("%w: %s describes a dump of server %s; this is %s: pass the manifest of a dump of this server", ErrBase, b.path, bs.Host, d.res.Server.Host)
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
	events, err := d.listEvents(ctx)
	if err != nil {
		return nil, err
	}
	routines, err := d.listRoutines(ctx)
	if err != nil {
		return nil, err
	}

	out := &deltaOut{delta: manifest.Delta{Base: manifest.Base{Archive: b.m.File.Name, Manifest: b.sha,
		Created: b.m.Created, SQLXXH3: b.m.SQL.XXH3, Database: b.m.Database}, Quiet: !d.cfg.Live}}
	if out.rows, err = newRowWriter(d.rowsOut); err != nil {
		return nil, err
	}
	out.chw = newHashWriter(d.changesOut, sha256.New())
	if out.changes, err = chunk.NewChangesWriter(out.chw); err != nil {
		out.rows.w.Abort()
		return nil, fmt.Errorf("dump: changes file: %w", err)
	}
	p := newPipe(ctx, w, &d.cfg, d)
	perr := d.produceDelta(p.ctx, p, b, br, out, tables, views, triggers, events, routines)
	if perr != nil {
		p.cancel()
	}
	werr := p.finish()
	switch {
	case ctx.Err() != nil:
		out.rows.w.Abort()
		out.changes.Abort()
		var te *TableError
		if errors.As(perr, &te) {
			return nil, &TableError{Table: te.Table, Err: fmt.Errorf("interrupted: %w", ctx.Err())}
		}
		return nil, fmt.Errorf("dump: interrupted: %w", ctx.Err())
	case perr != nil && (werr == nil || errors.Is(werr, context.Canceled)):
		out.rows.w.Abort()
		out.changes.Abort()
		return nil, perr
	case werr != nil:
		out.rows.w.Abort()
		out.changes.Abort()
		return nil, werr
	}
	if err := br.finish(b.m.RowDigests.SHA256); err != nil {
		out.changes.Abort()
		out.rows.w.Abort()
		return nil, err
	}
	if !d.cfg.Live {
		after, err := readQuietMarks(ctx, d.conn, db)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, t := range tables {
			names = append(names, t.name)
		}
		if err := quiet(before, after, names); err != nil {
			out.changes.Abort()
			out.rows.w.Abort()
			return nil, err
		}
	}
	if err := out.rows.close(); err != nil {
		out.changes.Abort()
		return nil, err
	}
	d.res.RowDigests = &out.rows.res
	if err := out.changes.Close(); err != nil {
		return nil, fmt.Errorf("dump: writing the changes file: %w", err)
	}
	out.delta.Changes = manifest.File{Size: out.chw.n, SHA256: hex.EncodeToString(out.chw.h.Sum(nil))}
	d.res.Delta = &out.delta
	d.res.SQL = manifest.StreamOf(p.hw.n, p.hw.h)
	if _, err := io.WriteString(w, d.res.SQL.Marker()); err != nil {
		return nil, fmt.Errorf("dump: writing completion marker: %w", err)
	}
	d.res.Duration = time.Since(start)
	return d.res, nil
}

// produceDelta writes the delta's SQL in the order doc.go gives.
func (d *dumper) produceDelta(ctx context.Context, p *pipe, b *base, br *baseRows, out *deltaOut,
	tables, views []tableInfo, triggers map[string][]string, events, routines []*program) error {
	if err := p.text(ctx, d.header()); err != nil {
		return err
	}
	var s []byte
	s = comment(s, "Delta of database "+ident.Quote(d.cfg.Database)+" since the dump "+b.m.File.Name+" of "+b.m.Created.UTC().Format("2006-01-02 15:04:05")+" UTC\nTriggers, views, routines and events are dropped first and made again at the end")
	// Drop every trigger, view, routine and event of the base or the
	// source: triggers must not fire while rows change, and all are made
	// again at the end as the source has them.
	drop := func(kind, name string, seen map[string]bool) {
		if !seen[kind+"\x00"+name] {
			seen[kind+"\x00"+name] = true
			s = append(s, "DROP "+kind+" IF EXISTS "+ident.Quote(name)+";\n"...)
		}
	}
	seen := map[string]bool{}
	for _, t := range b.m.Triggers {
		drop("TRIGGER", t, seen)
	}
	for _, tt := range tables {
		for _, t := range triggers[tt.name] {
			drop("TRIGGER", t, seen)
		}
	}
	for _, v := range b.m.Views {
		drop("VIEW", v, seen)
	}
	for _, v := range views {
		drop("VIEW", v.name, seen)
	}
	for _, o := range append(append([]manifest.Object{}, b.m.Routines...), b.m.Events...) {
		drop(o.Type, o.Name, seen)
	}
	for _, x := range append(append([]*program{}, routines...), events...) {
		drop(x.typ, x.name, seen)
	}
	// Tables gone from the source (and not left out on purpose now).
	present := map[string]bool{}
	for _, t := range tables {
		present[t.name] = true
	}
	for _, n := range d.res.Ignored {
		present[n] = true
	}
	for _, bt := range b.m.Tables {
		if !present[bt.Name] {
			s = append(s, "DROP TABLE IF EXISTS "+ident.Quote(bt.Name)+";\n"...)
			out.delta.Tables = append(out.delta.Tables, manifest.DeltaTable{Name: bt.Name, Action: manifest.DeltaDrop})
		}
	}
	if err := p.text(ctx, s); err != nil {
		return err
	}
	for _, t := range tables {
		d.status.Table = t.name
		if err := d.deltaTable(ctx, p, b, br, out, t); err != nil {
			var te *TableError
			if errors.As(err, &te) {
				return err
			}
			return &TableError{Table: t.name, Err: err}
		}
		d.status.TablesDone++
		if d.prog != nil {
			d.prog.Update(d.status)
		}
	}
	// A table altered while the others were read (an instant ALTER does
	// not end the snapshot's reads with error 1412): its rows were read
	// under one definition and the source now has another.
	for _, tr := range d.res.Tables {
		sc, err := showCreateOn(ctx, d.conn, "SHOW CREATE TABLE "+ident.Quote(tr.Name))
		if err != nil {
			return &TableError{Table: tr.Name, Err: err}
		}
		if def, _ := manifest.TableDefinition(sc["create table"]); def != tr.Definition {
			return &TableError{Table: tr.Name, Err: errors.New("altered during the dump (its definition changed after it was read): run the dump again")}
		}
	}
	for _, t := range tables {
		if len(triggers[t.name]) == 0 {
			continue
		}
		tb, err := d.triggerSQL(ctx, d.conn, triggers[t.name])
		if err != nil {
			return &TableError{Table: t.name, Err: err}
		}
		d.res.Triggers = append(d.res.Triggers, triggers[t.name]...)
		if err := p.text(ctx, tb); err != nil {
			return err
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

// deltaTable writes one table of a delta: whole, or its changed rows.
func (d *dumper) deltaTable(ctx context.Context, p *pipe, b *base, br *baseRows, out *deltaOut, t tableInfo) error {
	q := ident.Quote(t.name)
	if err := d.exec(ctx, "SAVEPOINT lamigrate_sp"); err != nil {
		return err
	}
	sc, err := showCreateOn(ctx, d.conn, "SHOW CREATE TABLE "+q)
	if err != nil {
		return err
	}
	create := sc["create table"]
	if create == "" {
		return fmt.Errorf("SHOW CREATE TABLE returned no statement")
	}
	def, autoInc := manifest.TableDefinition(create)
	cols, err := rowhash.Columns(ctx, d.conn, d.cfg.Database, t.name)
	if err != nil {
		return err
	}
	stored := rowhash.Stored(cols)
	key := d.keys[t.name]
	var keyPos []int
	if key != nil {
		if keyPos, err = key.Positions(stored); err != nil {
			key = nil
		}
	}
	res := TableResult{Name: t.name, Engine: t.engine, Consistent: consistentEngine(t.engine), Definition: def, AutoIncrement: autoInc}
	start := time.Now()
	bt := b.tables[t.name]
	var bfile *chunk.Table
	if bt != nil {
		if bfile, err = br.seek(t.name); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBase, b.rowsPath, err)
		}
	}
	why := ""
	switch {
	case bt == nil || bfile == nil:
		why = "new"
	case bt.Definition != def:
		why = "definition"
	case key == nil || bfile.Key == nil:
		why = "no key"
	case bfile.Key.Index != key.Index || strings.Join(bfile.Key.Columns, "\x00") != strings.Join(key.Columns, "\x00"):
		why = "definition"
	}
	kinds := make([]kind, len(stored))
	cl := []byte(" (")
	for i, c := range stored {
		kinds[i] = kindOf(c.DataType)
		if i > 0 {
			cl = append(cl, ", "...)
		}
		cl = append(cl, ident.Quote(c.Name)...)
	}
	cl = append(cl, ") VALUES "...)
	order := ""
	if key != nil {
		order = key.OrderBy()
	}
	sel := "SELECT " + rowhash.SelectList(cols) + " FROM " + q + order
	if testHookBeforeRows != nil {
		testHookBeforeRows(ctx, d.conn, t.name)
	}
	rw := out.rows
	rw.w.BeginTable(t.name, key)
	rw.res.Tables++
	if key != nil {
		rw.res.Keyed++
	}
	st := &stmtWriter{p: p, max: d.cfg.netBuffer()}
	var dig rowhash.Digest
	var n int64
	recorded := false // the rows are in the row digests file already
	if why == "no key" && bt != nil && bt.Definition == def && len(stored) > 0 {
		// No key to compare rows by: digest the table first; unchanged
		// (same rows and digest as the base) it is left alone, otherwise
		// it is read again, in the same snapshot, and carried whole.
		if bfile != nil {
			if err := br.skip(); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrBase, b.rowsPath, err)
			}
			bfile = nil
		}
		err = scanRows(ctx, d.conn, sel, len(stored), func(vals []sql.RawBytes) error {
			d.tick(vals)
			rw.record(false, nil, dig.AddRawRow(vals))
			n++
			return nil
		})
		if err != nil {
			return err
		}
		recorded = true
		if dig.String() == bt.Digest && dig.Rows == bt.Rows {
			why = "unchanged"
		}
	}
	switch why {
	case "unchanged":
	case "":
		if err := d.diffRows(ctx, st, br, out, t.name, q, sel, cols, key, keyPos, kinds, cl, bt.AutoIncrement, autoInc, &dig, &n); err != nil {
			return err
		}
	default:
		if bfile != nil {
			if err := br.skip(); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrBase, b.rowsPath, err)
			}
		}
		var s []byte
		s = comment(s, "Table structure for table "+q)
		s = append(s, "DROP TABLE IF EXISTS "+q+";\n"...)
		s = append(s, create...)
		s = append(s, ";\n"...)
		s = comment(s, "Dumping data for table "+q)
		s = append(s, "/*!40000 ALTER TABLE "+q+" DISABLE KEYS */;\n"...)
		if err := st.raw(ctx, s); err != nil {
			return err
		}
		st.prefix = append([]byte("INSERT INTO "+q), cl...)
		var kb []byte
		if len(stored) > 0 {
			err = scanRows(ctx, d.conn, sel, len(stored), func(vals []sql.RawBytes) error {
				if recorded {
					return st.row(ctx, vals, kinds, d.cfg.HexBlob)
				}
				d.tick(vals)
				g := dig.AddRawRow(vals)
				n++
				if key != nil {
					kb = appendRawKey(kb[:0], vals, keyPos)
				}
				rw.record(key != nil, kb, g)
				return st.row(ctx, vals, kinds, d.cfg.HexBlob)
			})
			if err != nil {
				return err
			}
		}
		if err := st.flush(ctx); err != nil {
			return err
		}
		if err := st.raw(ctx, []byte("/*!40000 ALTER TABLE "+q+" ENABLE KEYS */;\n")); err != nil {
			return err
		}
		out.delta.Tables = append(out.delta.Tables, manifest.DeltaTable{Name: t.name, Action: manifest.DeltaWhole, Why: why, Replaced: n})
	}
	rw.w.EndTable()
	res.Rows = n
	res.Digest = dig.String()
	res.Duration = time.Since(start)
	d.res.Tables = append(d.res.Tables, res)
	return d.exec(ctx, "ROLLBACK TO SAVEPOINT lamigrate_sp")
}

// diffRows writes a keyed table's changed rows (see differ).
func (d *dumper) diffRows(ctx context.Context, st *stmtWriter, br *baseRows, out *deltaOut, name, q, sel string, cols []rowhash.Column,
	key *chunk.Key, keyPos []int, kinds []kind, cl []byte, baseAutoInc, autoInc int64, dig *rowhash.Digest, n *int64) error {
	dt := manifest.DeltaTable{Name: name, Action: manifest.DeltaRows}
	types, err := key.Types(cols)
	if err != nil {
		return err
	}
	df := &differ{d: d, ctx: ctx, st: st, out: out, key: key, keyPos: keyPos, types: types, kinds: kinds, q: q,
		ordered: orderedKey(types), dt: &dt, name: name,
		pendBase: map[string]pendBase{}, pendCur: map[string]*pendCur{}, blocks: map[int64]bool{}}
	st.prefix = append([]byte("REPLACE INTO "+q), cl...)
	st.head = comment(nil, "Changed rows of table "+q)
	if err := df.run(sel, br, len(rowhash.Stored(cols)), dig, n); err != nil {
		return err
	}
	if baseAutoInc != autoInc && autoInc > 0 {
		if err := st.raw(ctx, []byte(fmt.Sprintf("ALTER TABLE %s AUTO_INCREMENT=%d;\n", q, autoInc))); err != nil {
			return err
		}
	}
	if dt.Deleted > 0 || dt.Replaced > 0 || baseAutoInc != autoInc {
		out.delta.Tables = append(out.delta.Tables, dt)
	}
	return nil
}

// tick counts one row read by a delta and reports progress now and then.
func (d *dumper) tick(vals []sql.RawBytes) {
	d.status.Rows++
	for _, v := range vals {
		d.status.DataBytes += int64(len(v))
	}
	if d.prog != nil && d.status.Rows%4096 == 0 {
		if now := time.Now(); now.Sub(d.lastUpdate) >= 100*time.Millisecond {
			d.lastUpdate = now
			d.prog.Update(d.status)
		}
	}
}

// appendRawKey is chunk.AppendKey for scanned values.
func appendRawKey(dst []byte, vals []sql.RawBytes, pos []int) []byte {
	row := make([][]byte, len(vals))
	for i, v := range vals {
		row[i] = v
	}
	return chunk.AppendKey(dst, row, pos)
}

// orderedKey reports whether the dump can compare keys itself in the
// server's order: one integer column. Other keys (strings in a collation,
// several columns) are matched without comparing (see differ.run).
func orderedKey(types []string) bool {
	if len(types) != 1 {
		return false
	}
	switch types[0] {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return true
	}
	return false
}

// scanRows runs q and calls fn for each row's values (valid during the call).
func scanRows(ctx context.Context, conn *sql.Conn, q string, n int, fn func([]sql.RawBytes) error) error {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]sql.RawBytes, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

// stmtWriter builds extended statements (prefix, then tuples) up to max
// bytes and queues them on the pipe.
type stmtWriter struct {
	p      *pipe
	head   []byte // written before the first statement, if any
	max    int
	prefix []byte
	buf    []byte
	n      int // tuples in buf
}

func (s *stmtWriter) raw(ctx context.Context, b []byte) error {
	if err := s.flush(ctx); err != nil {
		return err
	}
	if err := s.writeHead(ctx); err != nil {
		return err
	}
	return s.p.text(ctx, b)
}

func (s *stmtWriter) writeHead(ctx context.Context) error {
	if s.head == nil {
		return nil
	}
	h := s.head
	s.head = nil
	return s.p.text(ctx, h)
}

// tuple appends one already formatted "(…)".
func (s *stmtWriter) tuple(ctx context.Context, t []byte) error {
	if s.n > 0 && len(s.buf)+1+len(t) > s.max {
		if err := s.flush(ctx); err != nil {
			return err
		}
	}
	if s.n == 0 {
		s.buf = append(s.buf, s.prefix...)
	} else {
		s.buf = append(s.buf, ',')
	}
	s.buf = append(s.buf, t...)
	s.n++
	return nil
}

func (s *stmtWriter) row(ctx context.Context, vals []sql.RawBytes, kinds []kind, hexBlob bool) error {
	return s.tuple(ctx, formatTuple(nil, vals, kinds, hexBlob))
}

func (s *stmtWriter) flush(ctx context.Context) error {
	if s.n == 0 {
		return nil
	}
	if err := s.writeHead(ctx); err != nil {
		return err
	}
	b := append(s.buf, ";\n"...)
	s.buf, s.n = nil, 0
	return s.p.text(ctx, b)
}

func formatTuple(dst []byte, vals []sql.RawBytes, kinds []kind, hexBlob bool) []byte {
	dst = append(dst, '(')
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendValue(dst, v, kinds[i], hexBlob)
	}
	return append(dst, ')')
}

// differ compares one table's rows, read in key order, with the base's.
type differ struct {
	d       *dumper
	ctx     context.Context
	st      *stmtWriter
	out     *deltaOut
	key     *chunk.Key
	keyPos  []int
	types   []string
	kinds   []kind
	q, name string
	ordered bool
	dt      *manifest.DeltaTable
	began   bool
	// deletes waiting to be written (encoded keys)
	dels    [][]byte
	delSize int
	// string keys: rows seen on one side only, so far
	pendBase map[string]pendBase
	pendCur  map[string]*pendCur
	pendSize int
	order    []string // pendCur keys in arrival order
	spilled  int      // order[:spilled] were written or matched
	baseKeys []string // pendBase keys in arrival order
	// the base's blocks that held a change
	blocks map[int64]bool
}

type pendBase struct {
	digest uint64
	idx    int64
}

type pendCur struct {
	digest  uint64
	tuple   []byte // nil once written speculatively
	written bool
}

func (f *differ) change(c chunk.Change) {
	if !f.began {
		f.out.changes.BeginTable(f.name, f.key)
		f.began = true
	}
	f.out.changes.Add(c)
}

func (f *differ) block(idx int64) {
	if idx < 0 {
		return // before the base's first row: no block of it
	}
	if b := idx / chunk.BlockRows; !f.blocks[b] {
		f.blocks[b] = true
		f.dt.ChangedBlocks++
	}
}

func (f *differ) replace(tuple []byte) error {
	f.dt.Replaced++
	return f.st.tuple(f.ctx, tuple)
}

func (f *differ) del(key []byte) error {
	f.dt.Deleted++
	f.dels = append(f.dels, append([]byte(nil), key...))
	f.delSize += len(key)*2 + 8
	if f.delSize >= f.st.max/2 || len(f.dels) >= 10000 {
		return f.flushDeletes()
	}
	return nil
}

func (f *differ) flushDeletes() error {
	if len(f.dels) == 0 {
		return nil
	}
	s := []byte("DELETE FROM " + f.q + " WHERE ")
	// Exact bytes: a REPLACE of this table may have written a key that
	// only collates equal to a deleted one (its letter case changed).
	s, err := f.key.AppendKeyInExact(s, f.types, f.dels)
	if err != nil {
		return err
	}
	s = append(s, ";\n"...)
	f.dels, f.delSize = f.dels[:0], 0
	return f.st.raw(f.ctx, s)
}

// run reads the table and the base side by side. With an ordered key the
// two streams merge like sorted lists. Otherwise the order is the server's
// collation, which the dump does not reimplement: the streams advance in
// lockstep and a key seen on one side waits in a map until the other side
// shows it; both sides list keys in the same order, so a key waits only
// while inserted or deleted keys lie between it and its partner, and the
// maps hold (about) the changed rows. A new row waits with its formatted
// tuple; past maxPending bytes the oldest is written at once (a REPLACE of
// an unchanged row changes nothing), and its change is decided when its
// partner comes or the table ends.
func (f *differ) run(sel string, br *baseRows, ncols int, dig *rowhash.Digest, n *int64) error {
	var (
		brow    chunk.Row
		bok           = true
		bidx    int64 = -1
		err     error
		kb      []byte
		rw      = f.out.rows
		nextRow = func() error {
			brow, bok, err = br.r.NextRow()
			if bok {
				bidx++
				brow.Key = append([]byte(nil), brow.Key...)
			}
			return err
		}
	)
	if err := nextRow(); err != nil {
		return err
	}
	f.dt.Blocks = 0
	err = scanRows(f.ctx, f.d.conn, sel, ncols, func(vals []sql.RawBytes) error {
		f.d.tick(vals)
		g := dig.AddRawRow(vals)
		*n++
		kb = appendRawKey(kb[:0], vals, f.keyPos)
		rw.record(true, kb, g)
		if f.ordered {
			for bok && cmpInt(brow.Key, kb) < 0 {
				f.block(bidx)
				f.change(chunk.Change{Key: brow.Key, InBase: true, Base: brow.Digest})
				if err := f.del(brow.Key); err != nil {
					return err
				}
				if err := nextRow(); err != nil {
					return err
				}
			}
			if bok && bytes.Equal(brow.Key, kb) {
				if brow.Digest != g {
					f.block(bidx)
					f.change(chunk.Change{Key: kb, InBase: true, Base: brow.Digest, InNew: true, New: g})
					if err := f.replace(formatTuple(nil, vals, f.kinds, f.d.cfg.HexBlob)); err != nil {
						return err
					}
				}
				return nextRow()
			}
			f.block(bidx)
			f.change(chunk.Change{Key: kb, InNew: true, New: g})
			return f.replace(formatTuple(nil, vals, f.kinds, f.d.cfg.HexBlob))
		}
		// Unordered: lockstep.
		if bok && bytes.Equal(brow.Key, kb) {
			if brow.Digest != g {
				f.block(bidx)
				f.change(chunk.Change{Key: kb, InBase: true, Base: brow.Digest, InNew: true, New: g})
				if err := f.replace(formatTuple(nil, vals, f.kinds, f.d.cfg.HexBlob)); err != nil {
					return err
				}
			}
			return nextRow()
		}
		if err := f.curRow(kb, g, vals); err != nil {
			return err
		}
		if bok {
			if err := f.baseRow(brow, bidx); err != nil {
				return err
			}
			return nextRow()
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Base rows left: gone from the source.
	for bok {
		if f.ordered {
			f.block(bidx)
			f.change(chunk.Change{Key: brow.Key, InBase: true, Base: brow.Digest})
			if err := f.del(brow.Key); err != nil {
				return err
			}
		} else if err := f.baseRow(brow, bidx); err != nil {
			return err
		}
		if err := nextRow(); err != nil {
			return err
		}
	}
	for _, k := range f.baseKeys {
		pb, ok := f.pendBase[k]
		if !ok {
			continue
		}
		f.block(pb.idx)
		f.change(chunk.Change{Key: []byte(k), InBase: true, Base: pb.digest})
		if err := f.del([]byte(k)); err != nil {
			return err
		}
	}
	for _, k := range f.order {
		pc := f.pendCur[k]
		if pc == nil {
			continue
		}
		f.change(chunk.Change{Key: []byte(k), InNew: true, New: pc.digest})
		if !pc.written {
			if err := f.replace(pc.tuple); err != nil {
				return err
			}
		}
	}
	if err := f.st.flush(f.ctx); err != nil {
		return err
	}
	if err := f.flushDeletes(); err != nil {
		return err
	}
	if f.began {
		f.out.changes.EndTable()
	}
	f.dt.Blocks = (bidx + chunk.BlockRows) / chunk.BlockRows
	return nil
}

// curRow handles a source row whose key is not the base's current one.
func (f *differ) curRow(key []byte, g uint64, vals []sql.RawBytes) error {
	if pb, ok := f.pendBase[string(key)]; ok {
		delete(f.pendBase, string(key))
		if pb.digest != g {
			f.block(pb.idx)
			f.change(chunk.Change{Key: key, InBase: true, Base: pb.digest, InNew: true, New: g})
			return f.replace(formatTuple(nil, vals, f.kinds, f.d.cfg.HexBlob))
		}
		return nil
	}
	t := formatTuple(nil, vals, f.kinds, f.d.cfg.HexBlob)
	f.pendCur[string(key)] = &pendCur{digest: g, tuple: t}
	f.order = append(f.order, string(key))
	f.pendSize += len(t)
	for f.pendSize > maxPending && f.spilled < len(f.order) {
		pc := f.pendCur[f.order[f.spilled]]
		f.spilled++
		if pc == nil || pc.written {
			continue
		}
		if err := f.st.tuple(f.ctx, pc.tuple); err != nil {
			return err
		}
		f.pendSize -= len(pc.tuple)
		pc.tuple, pc.written = nil, true
	}
	return nil
}

// baseRow handles a base row whose key is not the source's current one.
func (f *differ) baseRow(r chunk.Row, idx int64) error {
	k := string(r.Key)
	if pc, ok := f.pendCur[k]; ok {
		delete(f.pendCur, k)
		f.pendSize -= len(pc.tuple)
		if pc.digest != r.Digest {
			f.block(idx)
			f.change(chunk.Change{Key: r.Key, InBase: true, Base: r.Digest, InNew: true, New: pc.digest})
			if !pc.written {
				return f.replace(pc.tuple)
			}
			f.dt.Replaced++
		}
		return nil
	}
	f.pendBase[k] = pendBase{digest: r.Digest, idx: idx}
	f.baseKeys = append(f.baseKeys, k)
	return nil
}

// cmpInt compares two encoded one-column integer keys numerically.
func cmpInt(a, b []byte) int {
	av, _ := chunk.DecodeKey(a)
	bv, _ := chunk.DecodeKey(b)
	x, y := string(av[0]), string(bv[0])
	xn, yn := strings.HasPrefix(x, "-"), strings.HasPrefix(y, "-")
	switch {
	case xn && !yn:
		return -1
	case !xn && yn:
		return 1
	}
	c := 0
	switch {
	case len(x) != len(y):
		if len(x) < len(y) {
			c = -1
		} else {
			c = 1
		}
	default:
		c = strings.Compare(x, y)
	}
	if xn {
		return -c
	}
	return c
}
