package check

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// SizeEstimate is the database's size and the dump's estimated size.
type SizeEstimate struct {
	// DataBytes and IndexBytes sum information_schema over every base
	// table; DumpedDataBytes only over the tables the dump includes.
	DataBytes       int64 `json:"data_bytes"`
	IndexBytes      int64 `json:"index_bytes"`
	DumpedDataBytes int64 `json:"dumped_data_bytes"`
	Rows            int64 `json:"rows"`
	// SQLBytes is the estimated uncompressed SQL stream; ArchiveBytes the
	// estimated gzip archive.
	SQLBytes     int64 `json:"sql_bytes"`
	ArchiveBytes int64 `json:"archive_bytes"`
	// SampledTables were measured by compressing a sample of their rows;
	// the others used the TextArchiveRatio/BlobArchiveRatio constants.
	SampledTables int    `json:"sampled_tables"`
	Method        string `json:"method"`
}

// DowntimeEstimate is how long the installation stays isolated: dump,
// transfer and import, one after the other.
type DowntimeEstimate struct {
	DumpSeconds     float64  `json:"dump_seconds"`
	TransferSeconds float64  `json:"transfer_seconds"`
	ImportSeconds   float64  `json:"import_seconds"`
	TotalSeconds    float64  `json:"total_seconds"`
	Assumptions     []string `json:"assumptions"`
}

// size adds the tables up and estimates the dump.
//
// information_schema's DATA_LENGTH is InnoDB's statistics, recomputed in
// the background only after a tenth of a table changed: right after a bulk
// load (an import, a restore from backup) it can be a twentieth of the
// truth, and a minute later right. TABLE_ROWS, in contrast, is counted as
// rows come and go. So the estimate rests on what stays current: the
// sampled tables scale their measured SQL bytes per row by TABLE_ROWS, and
// a table whose tablespace file holds far more than DATA_LENGTH says is
// sized by the file (its FILE_SIZE minus indexes and free extents) to
// choose the tables to sample and to estimate the others. check does not run ANALYZE
// TABLE to refresh the statistics: on the customer's live server it
// writes to the binary log, replans every query on the table and, on some
// versions, waits for long-running queries while new ones queue behind it.
func (c *checker) size(ctx context.Context) error {
	f := &c.rep.Facts
	s := &f.Size
	blob, err := c.blobTables(ctx)
	if err != nil {
		return err
	}
	files := c.tablespaceBytes(ctx)
	var cand []*TableFact
	for i := range f.Tables {
		t := &f.Tables[i]
		if t.Type != "BASE TABLE" {
			continue
		}
		s.DataBytes += t.DataBytes
		s.IndexBytes += t.IndexBytes
		if t.Ignored {
			continue
		}
		t.SizeBytes = t.DataBytes
		if fb := files[t.Name] - t.IndexBytes; fb > 2*t.DataBytes && fb > staleFileBytes {
			t.SizeBytes = fb // the statistics are stale
		}
		s.DumpedDataBytes += t.SizeBytes
		s.Rows += t.Rows
		switch {
		case blob[t.Name] && c.cfg.HexBlob:
			t.SQLBytes, t.Ratio = 2*t.SizeBytes, BlobArchiveRatio
		case blob[t.Name]:
			t.SQLBytes, t.Ratio = t.SizeBytes, BlobArchiveRatio
		default:
			t.SQLBytes, t.Ratio = t.SizeBytes, TextArchiveRatio
		}
		t.ArchiveBytes = int64(float64(t.SizeBytes) * t.Ratio)
		if t.Rows > 0 || t.SizeBytes > 0 {
			cand = append(cand, t)
		}
	}
	sort.SliceStable(cand, func(i, j int) bool { return cand[i].SizeBytes > cand[j].SizeBytes })
	if c.cfg.SampleBytes > 0 {
		for i, t := range cand {
			if i >= c.cfg.SampleTables {
				break
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := c.sample(ctx, t); err != nil {
				return err
			}
			if t.Sampled {
				s.SampledTables++
			}
		}
	}
	for _, t := range f.Tables {
		s.SQLBytes += t.SQLBytes
		s.ArchiveBytes += t.ArchiveBytes
	}
	s.Method = fmt.Sprintf("%d largest table(s) measured by gzip-compressing up to %s of rows written as the dump writes them, scaled by their row count; the rest at %.2f× (text) / %.2f× (BLOB) of their data size",
		s.SampledTables, bytesize.Format(c.cfg.SampleBytes), TextArchiveRatio, BlobArchiveRatio)
	if c.cfg.SampleBytes <= 0 {
		s.Method = fmt.Sprintf("%.2f× (text) / %.2f× (BLOB) of the data size", TextArchiveRatio, BlobArchiveRatio)
	}
	c.add(Info, "size", c.dbName, "",
		"%d tables, %s data + %s indexes, ~%d rows in the dump; estimated dump %s SQL, %s gzip archive",
		len(f.Tables), bytesize.Format(s.DataBytes), bytesize.Format(s.IndexBytes), s.Rows, bytesize.Format(s.SQLBytes), bytesize.Format(s.ArchiveBytes))
	return nil
}

// staleFileBytes: a tablespace file holding more than this and more than
// twice DATA_LENGTH means the statistics lag behind (a new file is 64 to
// 96 KiB however little it holds, and the file grows 1 to 4 MiB at a time).
const staleFileBytes = 8 << 20

// tablespaceBytes maps each table with its own InnoDB tablespace file to
// the bytes the file holds, less its free extents. The file's size is
// current even when DATA_LENGTH is not. Servers without the view (or
// without the privilege to read it) give an empty map.
func (c *checker) tablespaceBytes(ctx context.Context) map[string]int64 {
	out := map[string]int64{}
	for _, view := range []string{"INNODB_SYS_TABLESPACES", "INNODB_TABLESPACES"} { // MariaDB and MySQL 5.7; MySQL 8
		rows, err := c.db.QueryContext(ctx, `SELECT t.TABLE_NAME, s.FILE_SIZE - COALESCE(t.DATA_FREE, 0)
			FROM information_schema.TABLES t JOIN information_schema.`+view+` s
			  ON s.NAME = CONCAT(t.TABLE_SCHEMA, '/', t.TABLE_NAME)
			WHERE t.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'BASE TABLE' AND s.FILE_SIZE > 0`, c.dbName)
		if err != nil {
			continue
		}
		for rows.Next() {
			var name string
			var n int64
			if rows.Scan(&name, &n) == nil && n > 0 {
				out[name] = n
			}
		}
		err = rows.Err()
		rows.Close()
		if err == nil {
			return out
		}
		clear(out)
	}
	return out
}

// blobTables names the tables with binary large-object columns.
func (c *checker) blobTables(ctx context.Context) (map[string]bool, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT DISTINCT TABLE_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND DATA_TYPE IN ('tinyblob','blob','mediumblob','longblob')`, c.dbName)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}

// sampleChunks is how many places of a table the sample reads from;
// sampleMaxRows bounds the rows it reads; tables with fewer rows than
// exactCountRows (by TABLE_ROWS) are counted exactly.
const (
	sampleChunks   = 8
	sampleMaxRows  = 200000
	exactCountRows = 1000000
)

// sample reads up to SampleBytes of t's rows, written the way a dump writes
// them, gzips them and scales both sizes to the whole table. A table too
// large to read whole is read in sampleChunks runs of rows starting at
// evenly spread values of its primary key's first column (the first rows
// only, without one): row sizes are heavy-tailed (attachments), so one run of
// neighbouring rows can be far from the table's average.
func (c *checker) sample(ctx context.Context, t *TableFact) error {
	cols, err := rowhash.Columns(ctx, c.db, c.dbName, t.Name)
	if err != nil {
		return err
	}
	cols = rowhash.Stored(cols)
	sel := "SELECT " + rowhash.SelectList(cols) + " FROM " + ident.Quote(t.Name)
	text, n, whole, err := c.readSample(ctx, fmt.Sprintf("%s LIMIT %d", sel, sampleMaxRows), nil, c.cfg.SampleBytes, cols)
	if err != nil {
		return fmt.Errorf("sample %s: %w", t.Name, err)
	}
	rows := t.Rows
	if !whole {
		if pk, starts := c.spread(ctx, t.Name, cols, sampleChunks); len(starts) > 1 {
			var all []byte
			n = 0
			for _, st := range starts {
				q := fmt.Sprintf("%s WHERE %s >= ? ORDER BY %s LIMIT %d", sel, ident.Quote(pk), ident.Quote(pk), sampleMaxRows/len(starts))
				part, k, _, err := c.readSample(ctx, q, []any{st}, c.cfg.SampleBytes/int64(len(starts)), cols)
				if err != nil {
					return fmt.Errorf("sample %s: %w", t.Name, err)
				}
				all, n = append(all, part...), n+k
			}
			text = all
		}
		// TABLE_ROWS is itself an estimate after ANALYZE: count exactly
		// where that is quick.
		if rows < exactCountRows {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			var exact int64
			if err := c.db.QueryRowContext(cctx, "SELECT COUNT(*) FROM "+ident.Quote(t.Name)).Scan(&exact); err == nil {
				rows = exact
			}
			cancel()
		}
	}
	if n == 0 {
		return nil
	}
	var out countWriter
	w, err := codec.NewWriter(&out, codec.Gzip, codec.WriterOptions{Threads: 1})
	if err != nil {
		return err
	}
	if _, err := w.Write(text); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	ratio := float64(out) / float64(len(text))
	if whole {
		t.SQLBytes = int64(len(text)) // the whole table was read
	} else {
		// Scale by the row count, which InnoDB keeps current, not by
		// DATA_LENGTH, which lags behind bulk changes and counts half-empty
		// pages.
		t.SQLBytes = int64(float64(max(rows, n)) * float64(len(text)) / float64(n))
	}
	t.ArchiveBytes = int64(float64(t.SQLBytes) * ratio)
	t.Ratio = math.Round(1000*float64(t.ArchiveBytes)/float64(max(t.SizeBytes, 1))) / 1000
	t.Sampled = true
	return nil
}

// readSample renders the rows q returns as a dump writes them, until
// budget bytes; whole says q ran out of rows first.
func (c *checker) readSample(ctx context.Context, q string, args []any, budget int64, cols []rowhash.Column) ([]byte, int64, bool, error) {
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, false, err
	}
	defer rows.Close()
	var text bytes.Buffer
	var n int64
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	whole := true
	for rows.Next() {
		if int64(text.Len()) >= budget || n >= sampleMaxRows {
			whole = false
			break
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, 0, false, err
		}
		text.WriteByte('(')
		for i, v := range vals {
			if i > 0 {
				text.WriteByte(',')
			}
			text.WriteString(sqlValue(cols[i].DataType, v, c.cfg.HexBlob))
		}
		text.WriteString("),")
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, 0, false, err
	}
	return text.Bytes(), n, whole, nil
}

// spread returns the first column of t's primary key and k values evenly
// spread between its smallest and largest value (numbers by value,
// strings by their first bytes). None when there is no such key.
func (c *checker) spread(ctx context.Context, table string, cols []rowhash.Column, k int) (string, []any) {
	var pk string
	err := c.db.QueryRowContext(ctx, `SELECT COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' AND SEQ_IN_INDEX = 1`, c.dbName, table).Scan(&pk)
	if err != nil {
		return "", nil
	}
	typ := ""
	for _, col := range cols {
		if strings.EqualFold(col.Name, pk) {
			typ = col.DataType
		}
	}
	var lo, hi []byte
	if err := c.db.QueryRowContext(ctx, "SELECT MIN("+ident.Quote(pk)+"), MAX("+ident.Quote(pk)+") FROM "+ident.Quote(table)).Scan(&lo, &hi); err != nil || lo == nil || hi == nil {
		return "", nil
	}
	var out []any
	switch {
	case strings.HasSuffix(typ, "int"):
		a, err1 := strconv.ParseInt(string(lo), 10, 64)
		b, err2 := strconv.ParseInt(string(hi), 10, 64)
		if err1 != nil || err2 != nil || b <= a {
			return "", nil
		}
		for i := range k {
			out = append(out, a+int64(float64(b-a)*float64(i)/float64(k)))
		}
	case strings.Contains(typ, "char") || strings.Contains(typ, "binary"):
		a, b := prefixNum(lo), prefixNum(hi)
		if b <= a {
			return "", nil
		}
		for i := range k {
			out = append(out, numPrefix(a+uint64(float64(b-a)*float64(i)/float64(k))))
		}
		out[0] = string(lo)
	default:
		return "", nil
	}
	return pk, out
}

// Strings are spread as numbers in base 95 over their first prefixLen
// bytes, each clamped to printable ASCII, so that every value spread
// returns is a valid string in any character set.
const prefixLen = 8

func prefixNum(b []byte) uint64 {
	var n uint64
	for i := range prefixLen {
		d := uint64(0)
		if i < len(b) {
			d = uint64(min(max(b[i], 0x20), 0x7e) - 0x20)
		}
		n = n*95 + d
	}
	return n
}

func numPrefix(n uint64) string {
	var buf [prefixLen]byte
	for i := prefixLen - 1; i >= 0; i-- {
		buf[i] = byte(n%95) + 0x20
		n /= 95
	}
	return strings.TrimRight(string(buf[:]), " ")
}

// sqlValue renders v roughly as a dump writes it: binary values as
// _binary '...', or 0x... with hexBlob.
func sqlValue(dataType string, v sql.RawBytes, hexBlob bool) string {
	switch {
	case v == nil:
		return "NULL"
	case strings.Contains(dataType, "blob") || strings.Contains(dataType, "binary") || dataType == "bit":
		if len(v) == 0 {
			return "''"
		}
		if !hexBlob {
			return "_binary " + ident.String(string(v))
		}
		return "0x" + hex.EncodeToString(v)
	case strings.Contains(dataType, "int") || dataType == "decimal" || dataType == "double" || dataType == "float":
		return string(v)
	}
	return ident.String(string(v))
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// StreamDiskBytes is the disk a streaming dump needs in the output
// folder (Config.Stream): the journal, check's report and the isolation
// state file, with a wide margin. The archive itself goes to the transfer
// server through a few MB of memory buffers, over one connection, so no
// spill files either.
const StreamDiskBytes = 16 << 20

// disk compares the free space in OutDir with what the chosen mode needs
// there: the estimated archive and the dump's spill files beside it, or
// StreamDiskBytes for a streaming dump (Config.Stream). An OutDir that
// does not exist yet is fine when it can be created (run creates it): the
// space is that of its nearest existing parent.
func (c *checker) disk(ctx context.Context) error {
	dir := c.cfg.OutDir
	if dir == "" {
		c.add(Info, "disk_space", "", "run check with --out-dir DIR to compare", "free space for the dump was not checked (no output folder given)")
		return nil
	}
	at, missing, problem := outDirState(dir)
	if problem != "" {
		c.add(Blocker, "disk_space", dir, "choose another --out-dir, or fix the folder's permissions", "%s", problem)
		return nil
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(at, &fs); err != nil {
		c.add(Warning, "disk_space", dir, "check the free space yourself", "cannot read the free space of %s: %v", at, err)
		return nil
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	c.rep.Facts.FreeBytes = free
	archive := c.rep.Facts.Size.ArchiveBytes
	scratch := dump.ScratchBytes(c.rep.Facts.Size.SQLBytes, 0)
	need := archive + scratch
	what := fmt.Sprintf("about %s (a %s archive and up to %s of spill files while it runs)",
		bytesize.Format(need), bytesize.Format(archive), bytesize.Format(scratch))
	action := "free space there, choose another --out-dir, or stream the dump to the transfer server (\"stream\": true in a run config)"
	if c.cfg.Stream {
		need = StreamDiskBytes
		what = fmt.Sprintf("about %s (journal, reports and state file; the %s archive streams to the transfer server)",
			bytesize.Format(need), bytesize.Format(archive))
		action = "free space there or choose another output folder"
	}
	where := dir
	if missing {
		where = fmt.Sprintf("%s (not there yet: run creates it; create it before a dump by hand) is on the file system of %s, which", dir, at)
	}
	switch {
	case free < need:
		c.add(Blocker, "disk_space", dir, action,
			"%s has %s free but the dump needs %s", where, bytesize.Format(free), what)
	case float64(free) < 1.5*float64(need):
		c.add(Warning, "disk_space", dir, "free more space: the estimate can be off by tens of percent",
			"%s has %s free for a dump needing %s: little margin", where, bytesize.Format(free), what)
	default:
		c.add(Info, "disk_space", dir, "", "%s has %s free for a dump needing %s", where, bytesize.Format(free), what)
	}
	return nil
}

// outDirState finds where the output folder is or will be: dir itself, or
// its nearest existing parent when dir is still to be created (missing).
// problem says why the dump could not write there.
func outDirState(dir string) (at string, missing bool, problem string) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Sprintf("output folder %s: %v", dir, err)
	}
	at = abs
	for {
		st, err := os.Stat(at)
		switch {
		case err == nil && !st.IsDir() && at == abs:
			return at, false, fmt.Sprintf("output folder %s is a file, not a folder", dir)
		case err == nil && !st.IsDir():
			return at, true, fmt.Sprintf("output folder %s cannot be created: %s is a file, not a folder", dir, at)
		case err == nil:
			if syscall.Access(at, 0o3) != nil { // W_OK|X_OK
				if at == abs {
					return at, false, fmt.Sprintf("output folder %s is not writable by this user", dir)
				}
				return at, true, fmt.Sprintf("output folder %s does not exist and cannot be created: %s is not writable by this user", dir, at)
			}
			return at, at != abs, ""
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return at, at != abs, fmt.Sprintf("output folder %s: %v", dir, err)
		}
		parent := filepath.Dir(at)
		if parent == at {
			return at, true, fmt.Sprintf("output folder %s: no part of its path exists", dir)
		}
		at, missing = parent, true
	}
}

// downtime estimates dump + transfer + import.
func (c *checker) downtime(ctx context.Context) error {
	s := c.rep.Facts.Size
	d := &c.rep.Facts.Downtime
	d.DumpSeconds = round1(float64(s.SQLBytes) / (c.cfg.DumpMBps * 1e6))
	if c.cfg.LinkMbps > 0 {
		d.TransferSeconds = round1(float64(s.ArchiveBytes) * 8 / (c.cfg.LinkMbps * 1e6))
	}
	d.ImportSeconds = round1(float64(s.SQLBytes) / (c.cfg.ImportMBps * 1e6))
	d.TotalSeconds = round1(d.DumpSeconds + d.TransferSeconds + d.ImportSeconds)
	d.Assumptions = []string{
		fmt.Sprintf("dump writes %.0f MB/s of SQL (gzip level 6 included)", c.cfg.DumpMBps),
		fmt.Sprintf("upload at %g Mbit/s (--link-mbps)", c.cfg.LinkMbps),
		fmt.Sprintf("import loads %.0f MB/s of SQL", c.cfg.ImportMBps),
		"throughputs measured on a 2-core test machine with a 1 GB LiveAgent-like database; a faster server is quicker",
		"isolate, drain, verify and adjust add a few minutes",
	}
	msg := fmt.Sprintf("estimated downtime %s = dump %s + transfer %s + import %s (assumes %s)",
		dur(d.TotalSeconds), dur(d.DumpSeconds), dur(d.TransferSeconds), dur(d.ImportSeconds), strings.Join(d.Assumptions[:3], ", "))
	if d.TotalSeconds > 12*3600 {
		c.add(Warning, "downtime", "", "plan the migration with QU: it does not fit one migration window (12 h)", "%s", msg)
	} else {
		c.add(Info, "downtime", "", "", "%s", msg)
	}
	return nil
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

func dur(sec float64) string {
	return (time.Duration(math.Round(sec)) * time.Second).String()
}
