package dump

import (
	"bufio"
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
	if !strings.HasSuffix(path, manifest.Suffix) {
		if _, err := os.Stat(manifest.PathFor(path)); err == nil {
			return nil, fmt.Errorf("%w: %s is not a manifest: --since takes the base's manifest, %s", ErrBase, path, manifest.PathFor(path))
		}
	}
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

// checkRows compares the base's row digests file with the SHA-256 its
// manifest records, before anything is read from it.
func (b *base) checkRows() error {
	f, err := os.Open(b.rowsPath)
	if err != nil {
		return fmt.Errorf("%w: the base's row digests: %v (they are written beside the base archive; copy %s beside %s)", ErrBase, err, filepath.Base(b.rowsPath), b.path)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%w: reading %s: %v", ErrBase, b.rowsPath, err)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), b.m.RowDigests.SHA256; got != want {
		return fmt.Errorf("%w: the base's row digests file %s does not match its manifest (SHA-256 %s, the manifest says %s): it was changed or replaced; take a new full dump (lamigrate dump) as the base and push it first", ErrBase, b.rowsPath, got, want)
	}
	return nil
}

// baseRows reads the base's row digests file forward, one table after
// another (each worker has its own).
type baseRows struct {
	f    *os.File
	r    *chunk.Reader
	head *chunk.Table // the table NextTable returned last, rows unread
	eof  bool
}

func (b *base) openRows() (*baseRows, error) {
	f, err := os.Open(b.rowsPath)
	if err != nil {
		return nil, fmt.Errorf("%w: the base's row digests: %v", ErrBase, err)
	}
	r, err := chunk.NewReader(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrBase, b.rowsPath, err)
	}
	return &baseRows{f: f, r: r}, nil
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

// deltaOut is the delta's companion outputs: the full row digests file and
// the changes file.
type deltaOut struct {
	rows    *rowWriter
	chw     *hashWriter
	changes *chunk.ChangesWriter
	delta   manifest.Delta
}

// runDelta is run for Config.Since: one snapshot, over one connection or
// several (see delta_work.go).
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
	if err := b.checkRows(); err != nil {
		return nil, err
	}
	if err := d.exec(ctx, sessionSQL(db)...); err != nil {
		return nil, err
	}
	var before *quietMarks
	if !d.cfg.Live {
		if before, err = d.quietStart(ctx); err != nil {
			return nil, err
		}
	}
	defer d.releaseSnapshot(ctx)
	if err := d.server(ctx); err != nil {
		return nil, err
	}
	if bs := b.m.Server; bs.Host != d.res.Server.Host && bs.Host != "" {
		return nil, fmt.Errorf("%w: %s describes a dump of server %s; this is %s: pass the manifest of a dump of this server", ErrBase, b.path, bs.Host, d.res.Server.Host)
	}
	// As a full dump over several connections: the tables are listed,
	// then every connection's snapshot starts on one state (snapshot).
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
	units := make([]*unit, len(tables))
	for i, t := range tables {
		units[i] = &unit{t: t, parts: 1}
	}
	if d.db != nil && d.cfg.connections() > 1 {
		if err := d.snapshot(ctx, tables, units); err != nil {
			return nil, err
		}
		defer d.closeHelpers(ctx)
	} else if err := d.exec(ctx, startSnapshot); err != nil {
		return nil, err
	}
	var workers []*deltaWorker
	for _, c := range append([]*sql.Conn{d.conn}, d.helpers...) {
		br, err := b.openRows()
		if err != nil {
			return nil, err
		}
		defer br.close()
		workers = append(workers, &deltaWorker{d: d, conn: c, br: br})
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
	p, pctx := newPipe(ctx, w, &d.cfg, d)
	perr := d.produceDelta(pctx, p, b, workers, out, tables, views, triggers, events, routines)
	if perr != nil {
		p.cancel()
	}
	werr := p.finish()
	if err := pipeError(ctx, perr, werr); err != nil {
		out.rows.w.Abort()
		out.changes.Abort()
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
	d.res.Seconds = time.Since(start).Seconds()
	return d.res, nil
}

// produceDelta writes the delta's SQL in the order doc.go gives.
func (d *dumper) produceDelta(ctx context.Context, p *pipe, b *base, workers []*deltaWorker, out *deltaOut,
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
	if err := d.readTables(ctx, b, workers, tables, func(bu *bundle) error { return d.emitBundle(ctx, p, out, bu) }); err != nil {
		return err
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

// table reads one table of a delta into bu: whole, or its changed rows.
func (w *deltaWorker) table(ctx context.Context, b *base, t tableInfo, bu *bundle) error {
	d, br := w.d, w.br
	q := ident.Quote(t.name)
	if err := execOn(ctx, w.conn, "SAVEPOINT lamigrate_sp"); err != nil {
		return err
	}
	sc, err := showCreateOn(ctx, w.conn, "SHOW CREATE TABLE "+q)
	if err != nil {
		return err
	}
	create := sc["create table"]
	if create == "" {
		return fmt.Errorf("SHOW CREATE TABLE returned no statement")
	}
	def, autoInc := manifest.TableDefinition(create)
	cols, err := rowhash.Columns(ctx, w.conn, d.cfg.Database, t.name)
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
	d.hooks.beforeRowsOf(ctx, w.conn, t.name)
	bu.key = key
	st := &stmtWriter{out: bu.sql, max: d.cfg.netBuffer()}
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
		err = scanRows(ctx, w.conn, sel, len(stored), func(vals []sql.RawBytes) error {
			d.tick(vals)
			bu.row(nil, dig.AddRawRow(vals))
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
		if err := w.diffRows(ctx, st, bu, t.name, q, sel, cols, key, keyPos, kinds, cl, bt.AutoIncrement, autoInc, &dig, &n); err != nil {
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
			err = scanRows(ctx, w.conn, sel, len(stored), func(vals []sql.RawBytes) error {
				if recorded {
					return st.row(ctx, vals, kinds, d.cfg.HexBlob)
				}
				d.tick(vals)
				g := dig.AddRawRow(vals)
				n++
				if key != nil {
					kb = appendRawKey(kb[:0], vals, keyPos)
				}
				bu.row(kb, g)
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
		bu.dt = &manifest.DeltaTable{Name: t.name, Action: manifest.DeltaWhole, Why: why, Replaced: n}
	}
	if err := st.flush(ctx); err != nil {
		return err
	}
	res.Rows = n
	res.Digest = dig.String()
	res.Seconds = time.Since(start).Seconds()
	bu.res = res
	return execOn(ctx, w.conn, "ROLLBACK TO SAVEPOINT lamigrate_sp")
}

// diffRows writes a keyed table's changed rows (see differ).
func (w *deltaWorker) diffRows(ctx context.Context, st *stmtWriter, bu *bundle, name, q, sel string, cols []rowhash.Column,
	key *chunk.Key, keyPos []int, kinds []kind, cl []byte, baseAutoInc, autoInc int64, dig *rowhash.Digest, n *int64) error {
	dt := manifest.DeltaTable{Name: name, Action: manifest.DeltaRows}
	types, err := key.Types(cols)
	if err != nil {
		return err
	}
	df := &differ{d: w.d, conn: w.conn, st: st, bu: bu, key: key, keyPos: keyPos, types: types, kinds: kinds, q: q,
		ordered: orderedKey(types), dt: &dt, name: name,
		pendBase: map[string]pendBase{}, pendCur: map[string]*pendCur{}, blocks: map[int64]bool{}}
	st.prefix = append([]byte("REPLACE INTO "+q), cl...)
	st.head = comment(nil, "Changed rows of table "+q)
	if err := df.run(ctx, sel, w.br, len(rowhash.Stored(cols)), dig, n); err != nil {
		return err
	}
	if baseAutoInc != autoInc && autoInc > 0 {
		if err := st.raw(ctx, []byte(fmt.Sprintf("ALTER TABLE %s AUTO_INCREMENT=%d;\n", q, autoInc))); err != nil {
			return err
		}
	}
	if dt.Deleted > 0 || dt.Replaced > 0 || baseAutoInc != autoInc {
		bu.dt = &dt
	}
	return nil
}

// tick counts one row read by a delta and reports progress now and then.
func (d *dumper) tick(vals []sql.RawBytes) {
	d.smu.Lock()
	defer d.smu.Unlock()
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
