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
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/flate"

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
// transfer and import, one after the other, for a whole migration.
type DowntimeEstimate struct {
	DumpSeconds     float64  `json:"dump_seconds"`
	TransferSeconds float64  `json:"transfer_seconds"`
	ImportSeconds   float64  `json:"import_seconds"`
	TotalSeconds    float64  `json:"total_seconds"`
	Assumptions     []string `json:"assumptions"`
	// Cutover is the cutover after the pre-copies in Config.CopiesDir
	// (nil: none there).
	Cutover *CutoverEstimate `json:"cutover,omitempty"`
}

// size adds the tables up and estimates the dump.
//
// information_schema's DATA_LENGTH is InnoDB's statistics, recomputed in
// the background only after a tenth of a table changed: right after a bulk
// load (an import, a restore from backup) it can be a twentieth of the
// truth, and a minute later right. So the estimate rests on what stays
// current: the sampled tables are chosen by the larger of DATA_LENGTH and
// what their tablespace file holds (its FILE_SIZE minus indexes and free
// extents), and sized from their rows (see sample); a table not sampled
// whose file holds far more than DATA_LENGTH says is sized by the file.
// check does not run ANALYZE TABLE to refresh the statistics: on the
// customer's live server it writes to the binary log, replans every query
// on the table and, on some versions, waits for long-running queries while
// new ones queue behind it.
func (c *checker) size(ctx context.Context) error {
	f := &c.rep.Facts
	s := &f.Size
	blob, err := c.blobTables(ctx)
	if err != nil {
		return err
	}
	files := c.tablespaceBytes(ctx)
	var cand []*TableFact
	rank := map[*TableFact]int64{}
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
			// A small table's file overstates it by up to a few hundred
			// KiB, but unlike DATA_LENGTH it is current: right after a
			// load the largest tables can show DATA_LENGTH 16 KiB.
			rank[t] = max(t.SizeBytes, files[t.Name]-t.IndexBytes)
		}
	}
	sort.SliceStable(cand, func(i, j int) bool { return rank[cand[i]] > rank[cand[j]] })
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
	s.Method = fmt.Sprintf("%d largest table(s) measured: up to %s of rows written as the dump writes them and gzip-compressed, the mean length of up to %s of rows measured by the server, times the row count; the rest at %.2f× (text) / %.2f× (BLOB) of their data size",
		s.SampledTables, bytesize.Format(c.cfg.SampleBytes), bytesize.Format(max(c.cfg.LengthBytes, 0)), TextArchiveRatio, BlobArchiveRatio)
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

// sampleStarts is how many places of a table the samples start from;
// sampleMaxRows bounds the rows the client sample reads; tables with
// fewer rows than exactCountRows (by TABLE_ROWS) are counted exactly;
// lengthMaxRows bounds the rows whose length the server measures;
// samplePrefix is how much of each text or binary value the client
// sample reads (characters of text, bytes of binary).
const (
	sampleStarts   = 32
	sampleMaxRows  = 200000
	exactCountRows = 1000000
	lengthMaxRows  = 50000
	samplePrefix   = 16384
)

// A table is sized in two passes, because row sizes are heavy-tailed
// (attachments): a few MB of whole rows hold a few dozen attachments,
// and their mean, or their share that compresses, can be a third off the
// table's.
//
//  1. The client sample reads up to SampleBytes of rows, each text or
//     binary value cut to its first samplePrefix characters or bytes, and
//     writes them as the dump writes them. A row that was cut is
//     compressed alone and counted at its whole length (the server's
//     lengthModel of the whole row against that of what was read); the
//     others are compressed together. That gives the compression ratio of
//     hundreds of attachments where whole rows would give a few dozen.
//     The written length against the server's lengthModel of what was
//     read (each value's LENGTH plus its quotes, prefix and separators)
//     gives how much escaping adds. A table whose rows fit is read whole
//     and needs nothing else.
//  2. The server measures the modelled length of many more rows without
//     sending them: every row when the table's size is at most
//     LengthBytes (which also counts the rows exactly), else up to
//     LengthBytes (and lengthMaxRows rows) read from the same places.
//
// The table's SQL is then rows × mean modelled length × escaping. Both
// passes start at values of the primary key's first column spread evenly
// between its smallest and largest (spread), each place once: two
// places whose first row is the same are read once, so no part of the
// table counts twice.

// sampleStats are the rows the client sample read.
type sampleStats struct {
	text []byte // the rows read whole, written as the dump writes them
	n    int64  // rows
	// written is the bytes written for every row (a cut row's for what
	// was read of it); modelled the server's lengthModel of the same, and
	// whole its lengthModel of the whole rows.
	written, modelled, whole int64
	// cutSQL and cutArchive are the cut rows' written and compressed
	// bytes, each scaled to the row's whole length.
	cutSQL, cutArchive float64
}

func (a *sampleStats) add(b sampleStats) {
	a.text = append(a.text, b.text...)
	a.n += b.n
	a.written += b.written
	a.modelled += b.modelled
	a.whole += b.whole
	a.cutSQL += b.cutSQL
	a.cutArchive += b.cutArchive
}

// sample sizes t's dump by the two passes above and scales both sizes to
// the whole table.
func (c *checker) sample(ctx context.Context, t *TableFact) error {
	cols, err := rowhash.Columns(ctx, c.db, c.dbName, t.Name)
	if err != nil {
		return err
	}
	cols = rowhash.Stored(cols)
	model := lengthModel(cols, c.cfg.HexBlob, false)
	from := " FROM " + ident.Quote(t.Name)
	sel := "SELECT " + prefixList(cols) + ", " + model + ", " + lengthModel(cols, c.cfg.HexBlob, true) + from
	// Every query is limited to about the rows its budget holds: closing
	// a result early reads the rows left all the same, which for a table
	// of attachments is most of the table.
	limit := sampleMaxRows
	if t.Rows > 0 && t.SizeBytes > 0 {
		row := min(max(t.SizeBytes/t.Rows, 1), 4*samplePrefix)
		limit = int(min(2*c.cfg.SampleBytes/row+16, sampleMaxRows))
	}
	st, ran, _, err := c.readSample(ctx, fmt.Sprintf("%s LIMIT %d", sel, limit), nil, c.cfg.SampleBytes, cols, -1)
	if err != nil {
		return fmt.Errorf("sample %s: %w", t.Name, err)
	}
	if st.n == 0 {
		return nil
	}
	if ran && st.n < int64(limit) {
		// The whole table was read.
		t.SQLBytes = int64(float64(len(st.text)) + st.cutSQL)
		return c.compressed(t, st)
	}
	pk, starts := c.spread(ctx, t.Name, cols, sampleStarts)
	key := slices.IndexFunc(cols, func(col rowhash.Column) bool { return strings.EqualFold(col.Name, pk) })
	var places []any // the first key of each distinct place
	if len(starts) > 1 {
		var all sampleStats
		seen := map[string]bool{}
		budget := c.cfg.SampleBytes / int64(len(starts))
		per := min(budget/max(st.written/st.n, 1)+1, sampleMaxRows/int64(len(starts)))
		for _, at := range starts {
			q := fmt.Sprintf("%s WHERE %s >= ? ORDER BY %s LIMIT %d", sel, ident.Quote(pk), ident.Quote(pk), per)
			part, _, first, err := c.readSample(ctx, q, []any{at}, budget, cols, key)
			if err != nil {
				return fmt.Errorf("sample %s: %w", t.Name, err)
			}
			if first == nil || seen[string(first)] {
				continue // past the last row, or a place already read
			}
			seen[string(first)] = true
			places = append(places, string(first))
			all.add(part)
		}
		if all.n > 0 {
			st = all
		}
	}
	escaping := 1.0
	if st.modelled > 0 {
		escaping = float64(st.written) / float64(st.modelled)
	}
	rows, mean := c.rowLengths(ctx, t, model, pk, places, st)
	t.SQLBytes = int64(float64(rows) * mean * escaping)
	return c.compressed(t, st)
}

// rowLengths returns t's row count and its rows' mean modelled length,
// measured by the server (see sample): every row when the table is small
// enough, else from places; the client sample's rows when neither works.
func (c *checker) rowLengths(ctx context.Context, t *TableFact, model, pk string, places []any, st sampleStats) (int64, float64) {
	from := " FROM " + ident.Quote(t.Name)
	budget := c.cfg.LengthBytes
	mean := float64(st.whole) / float64(st.n)
	if budget > 0 && t.SizeBytes <= budget {
		// Every row: exact. Bounded in time, since SizeBytes can lag.
		cctx, cancel := context.WithTimeout(ctx, lengthTimeout)
		var n, sum int64
		err := c.db.QueryRowContext(cctx, "SELECT COUNT(*), COALESCE(SUM("+model+"), 0)"+from).Scan(&n, &sum)
		cancel()
		if err == nil && n > 0 {
			return n, float64(sum) / float64(n)
		}
	}
	if budget > 0 && len(places) > 1 && mean > 0 {
		want := min(float64(budget)/mean, lengthMaxRows)
		per := max(int64(want)/int64(len(places)), 1)
		var n, sum int64
		cctx, cancel := context.WithTimeout(ctx, lengthTimeout)
		for _, at := range places {
			var k, s int64
			q := fmt.Sprintf("SELECT COUNT(*), COALESCE(SUM(len), 0) FROM (SELECT %s AS len%s WHERE %s >= ? ORDER BY %s LIMIT %d) AS sample",
				model, from, ident.Quote(pk), ident.Quote(pk), per)
			if err := c.db.QueryRowContext(cctx, q, at).Scan(&k, &s); err != nil {
				n = 0
				break
			}
			n, sum = n+k, sum+s
		}
		cancel()
		if n > st.n {
			mean = float64(sum) / float64(n)
		}
	}
	// TABLE_ROWS is itself an estimate: count exactly where that is quick.
	rows := t.Rows
	if rows < exactCountRows {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var exact int64
		if err := c.db.QueryRowContext(cctx, "SELECT COUNT(*)"+from).Scan(&exact); err == nil {
			rows = exact
		}
		cancel()
	}
	return max(rows, st.n), mean
}

// lengthTimeout bounds each of the server's length passes over a table.
const lengthTimeout = 30 * time.Second

// compressed gzips the rows the client sample read whole, adds the cut
// rows' compressed size, and sets t's archive estimate from the ratio.
func (c *checker) compressed(t *TableFact, st sampleStats) error {
	var out countWriter
	w, err := codec.NewWriter(&out, codec.Gzip, codec.WriterOptions{Threads: 1})
	if err != nil {
		return err
	}
	if _, err := w.Write(st.text); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	ratio := (float64(out) + st.cutArchive) / max(float64(len(st.text))+st.cutSQL, 1)
	t.ArchiveBytes = int64(float64(t.SQLBytes) * ratio)
	t.Ratio = math.Round(1000*float64(t.ArchiveBytes)/float64(max(t.SizeBytes, 1))) / 1000
	t.Sampled = true
	return nil
}

// lengthModel is an SQL expression for the length of a row as the dump
// writes it, short of escaping: each value's LENGTH plus its quotes
// (_binary '...' for binary values, 0x... with hexBlob), NULL's four
// letters, and the row's parentheses and commas. The client sample
// measures the escaping against it. cut: of the values as prefixList
// reads them.
func lengthModel(cols []rowhash.Column, hexBlob, cut bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(%d", len(cols)+2)
	for _, col := range cols {
		v := rowhash.Expr(col)
		if cut {
			v = prefixExpr(col)
		}
		e := "LENGTH(" + v + ")"
		switch {
		case isBinary(col.DataType) && hexBlob:
			e = "2*" + e + "+2"
		case isBinary(col.DataType):
			e += "+10"
		case isNumber(col.DataType):
		default:
			e += "+2"
		}
		b.WriteString("+COALESCE(" + e + ",4)")
	}
	b.WriteString(")")
	return b.String()
}

// prefixList is rowhash.SelectList with text and binary values cut to
// their first samplePrefix characters or bytes.
func prefixList(cols []rowhash.Column) string {
	var b strings.Builder
	for i, col := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefixExpr(col))
	}
	return b.String()
}

func prefixExpr(col rowhash.Column) string {
	t := col.DataType
	if isBinary(t) || strings.Contains(t, "char") || strings.Contains(t, "text") || t == "json" {
		return fmt.Sprintf("LEFT(%s, %d)", rowhash.Expr(col), samplePrefix)
	}
	return rowhash.Expr(col)
}

func isBinary(dataType string) bool {
	return strings.Contains(dataType, "blob") || strings.Contains(dataType, "binary") || dataType == "bit"
}

func isNumber(dataType string) bool {
	return strings.Contains(dataType, "int") || dataType == "decimal" || dataType == "double" || dataType == "float"
}

// readSample writes the rows q returns as a dump writes them, until
// budget bytes; q selects prefixList, then the row's lengthModel whole and
// cut. ran says q ran out of rows first; first is the first row's value
// of the primary key (nil without rows).
func (c *checker) readSample(ctx context.Context, q string, args []any, budget int64, cols []rowhash.Column, key int) (sampleStats, bool, []byte, error) {
	var st sampleStats
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return st, false, nil, err
	}
	defer rows.Close()
	var text, row bytes.Buffer
	var first []byte
	vals := make([]sql.RawBytes, len(cols)+2)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	ran := true
	for rows.Next() {
		if st.written >= budget || st.n >= sampleMaxRows {
			ran = false
			break
		}
		if err := rows.Scan(ptrs...); err != nil {
			return st, false, nil, err
		}
		row.Reset()
		row.WriteByte('(')
		for i, v := range vals[:len(cols)] {
			if i > 0 {
				row.WriteByte(',')
			}
			row.WriteString(sqlValue(cols[i].DataType, v, c.cfg.HexBlob))
		}
		row.WriteString("),")
		whole, _ := strconv.ParseInt(string(vals[len(cols)]), 10, 64)
		read, _ := strconv.ParseInt(string(vals[len(cols)+1]), 10, 64)
		st.written += int64(row.Len())
		st.modelled += read
		st.whole += whole
		if whole > read && read > 0 {
			scale := float64(whole) / float64(read)
			z, err := c.deflated(row.Bytes())
			if err != nil {
				return st, false, nil, err
			}
			st.cutSQL += float64(row.Len()) * scale
			st.cutArchive += float64(z) * scale
		} else {
			text.Write(row.Bytes())
		}
		if st.n == 0 && key >= 0 {
			first = append([]byte{}, vals[key]...)
		}
		st.n++
	}
	if err := rows.Err(); err != nil {
		return st, false, nil, err
	}
	st.text = text.Bytes()
	return st, ran, first, nil
}

// deflated is the size of b compressed alone at gzip's default level.
func (c *checker) deflated(b []byte) (int, error) {
	var out countWriter
	if c.deflate == nil {
		w, err := flate.NewWriter(&out, codec.DefaultLevel[codec.Gzip])
		if err != nil {
			return 0, err
		}
		c.deflate = w
	} else {
		c.deflate.Reset(&out)
	}
	if _, err := c.deflate.Write(b); err != nil {
		return 0, err
	}
	if err := c.deflate.Close(); err != nil {
		return 0, err
	}
	return int(out), nil
}

// spread returns the first column of t's primary key and k values evenly
// spread between its smallest and largest value: numbers by value,
// strings by their first bytes, read as digits in the key's alphabet (the
// printable ASCII bytes of the smallest and largest key and of the first
// keys in order), so that keys written in a few letters, such as
// LiveAgent's random hexadecimal ones, are spread over the letters they
// use rather than over every printable byte. None when there is no such
// key.
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
	q := ident.Quote(pk)
	var lo, hi []byte
	if err := c.db.QueryRowContext(ctx, "SELECT MIN("+q+"), MAX("+q+") FROM "+ident.Quote(table)).Scan(&lo, &hi); err != nil || lo == nil || hi == nil {
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
		keys := [][]byte{lo, hi}
		if rows, err := c.db.QueryContext(ctx, "SELECT "+q+" FROM "+ident.Quote(table)+" ORDER BY "+q+" LIMIT 256"); err == nil {
			for rows.Next() {
				var key []byte
				if rows.Scan(&key) == nil {
					keys = append(keys, key)
				}
			}
			rows.Close()
		}
		abc := alphabetOf(keys)
		a, b := abc.num(lo), abc.num(hi)
		if b <= a {
			return "", nil
		}
		for i := range k {
			out = append(out, abc.str(a+uint64(float64(b-a)*float64(i)/float64(k))))
		}
		out[0] = string(lo)
	default:
		return "", nil
	}
	return pk, out
}

// Strings are spread as numbers over their first prefixLen bytes, each a
// digit of an alphabet of printable ASCII bytes, so that every value
// spread returns is a valid string in any character set.
const prefixLen = 8

// alphabet is the digits of spread's numbers, in byte order.
type alphabet []byte

// alphabetOf is the printable ASCII bytes of keys; every printable byte
// when they hold fewer than two.
func alphabetOf(keys [][]byte) alphabet {
	var seen [128]bool
	for _, k := range keys {
		for _, ch := range k {
			if ch >= 0x20 && ch <= 0x7e {
				seen[ch] = true
			}
		}
	}
	var abc alphabet
	for ch, ok := range seen {
		if ok {
			abc = append(abc, byte(ch))
		}
	}
	if len(abc) < 2 {
		abc = abc[:0]
		for ch := byte(0x20); ch <= 0x7e; ch++ {
			abc = append(abc, ch)
		}
	}
	return abc
}

// num reads b's first prefixLen bytes as digits, each byte as the largest
// digit not above it (the smallest digit when below them all, or
// missing).
func (abc alphabet) num(b []byte) uint64 {
	base := uint64(len(abc))
	var n uint64
	for i := range prefixLen {
		d := 0
		if i < len(b) {
			d = max(sort.Search(len(abc), func(j int) bool { return abc[j] > b[i] })-1, 0)
		}
		n = n*base + uint64(d)
	}
	return n
}

// str writes n as prefixLen digits, less trailing spaces.
func (abc alphabet) str(n uint64) string {
	base := uint64(len(abc))
	var buf [prefixLen]byte
	for i := prefixLen - 1; i >= 0; i-- {
		buf[i] = abc[n%base]
		n /= base
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
	c.cutover()
	return nil
}

// cutover estimates the cutover after the pre-copies in CopiesDir, if any.
func (c *checker) cutover() {
	dir := c.cfg.CopiesDir
	if dir == "" {
		return
	}
	paths, err := FindCopies(dir)
	var copies []Copy
	if err == nil {
		copies, err = ReadCopies(paths)
	}
	if err != nil {
		c.add(Warning, "downtime_cutover", dir, "check the pre-copies' manifests there, or move them aside", "cannot estimate the cutover: %v", err)
		return
	}
	e := EstimateCutover(copies, c.cfg.now(), CutoverAssumptions{DumpMBps: c.cfg.DumpMBps, ImportMBps: c.cfg.ImportMBps, VerifyMBps: c.cfg.VerifyMBps, LinkMbps: c.cfg.LinkMbps,
		FullSQLBytes: c.rep.Facts.Size.SQLBytes, FullArchiveBytes: c.rep.Facts.Size.ArchiveBytes})
	if e == nil {
		return
	}
	c.rep.Facts.Downtime.Cutover = e
	if !e.RateKnown {
		c.add(Info, "downtime_cutover", dir, "", "%s in %s: the estimated downtime above stands for the cutover too", e.Summary(), dir)
		return
	}
	c.add(Info, "downtime_cutover", dir, "", "estimated cutover downtime %s = delta dump %s + transfer %s + import %s + verify %s (%s; the whole database ~%s of SQL)",
		dur(e.TotalSeconds), dur(e.DumpSeconds), dur(e.TransferSeconds), dur(e.ImportSeconds), dur(e.VerifySeconds), e.Summary(), bytesize.Format(e.FullSQLBytes))
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

func dur(sec float64) string {
	return (time.Duration(math.Round(sec)) * time.Second).String()
}
