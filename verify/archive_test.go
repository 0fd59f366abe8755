package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// dumpText builds a mysqldump-style SQL stream: for each table a structure
// section and a data section of extended INSERTs with rows tuples in total.
func dumpText(tables []string, rows int) []byte {
	r := rand.New(rand.NewPCG(7, 9))
	var b bytes.Buffer
	b.WriteString("-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)\n--\n-- Host: localhost    Database: test\n")
	b.WriteString("/*!40101 SET NAMES utf8mb4 */;\n")
	for _, t := range tables {
		fmt.Fprintf(&b, "\n--\n-- Table structure for table `%s`\n--\n\n", t)
		fmt.Fprintf(&b, "CREATE TABLE `%s` (\n  `id` int(11) NOT NULL,\n  `v` longtext DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n", t)
		fmt.Fprintf(&b, "\n--\n-- Dumping data for table `%s`\n--\n\n", t)
		fmt.Fprintf(&b, "LOCK TABLES `%s` WRITE;\n", t)
		for i := 0; i < rows; {
			fmt.Fprintf(&b, "INSERT INTO `%s` VALUES ", t)
			for j := 0; j < 100 && i < rows; j, i = j+1, i+1 {
				if j > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "(%d,'%x')", i, r.Uint64())
			}
			b.WriteString(";\n")
		}
		b.WriteString("UNLOCK TABLES;\n")
	}
	b.WriteString("/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\n-- Dump completed on 2024-05-01 10:00:00\n")
	return b.Bytes()
}

// withMarker appends the completion marker.
func withMarker(sql []byte) []byte {
	return append(append([]byte{}, sql...), manifest.Marker(int64(len(sql)), xxh(sql))...)
}

func compress(t testing.TB, plain []byte, k codec.Kind, pass string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := codec.NewWriter(&buf, k, codec.WriterOptions{Passphrase: pass})
	if err != nil {
		require.NoError(t, err, "codec.NewWriter")
	}
	_, err = w.Write(plain)
	require.NoError(t, err, "w.Write")
	err = w.Close()
	require.NoError(t, err, "w.Close")
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// xxh is the SQL stream's hash (XXH3-128) of b, as the marker records it.
func xxh(b []byte) string {
	h := manifest.NewStreamHash()
	h.Write(b)
	return manifest.StreamOf(int64(len(b)), h).XXH3
}

// manifestFor describes an archive made from sql (without the marker).
func manifestFor(archive, sql []byte, tables []string, rows int64) *Manifest {
	m := &Manifest{Format: manifest.FormatVersion, Tool: "test", Database: "test",
		SQL:  manifest.Stream{Bytes: int64(len(sql)), XXH3: xxh(sql)},
		File: manifest.File{Name: "dump", Size: int64(len(archive)), SHA256: sha(archive)}}
	for _, t := range tables {
		m.Tables = append(m.Tables, manifest.Table{Name: t, Rows: rows, Digest: "rh2:00", Consistent: true})
	}
	return m
}

func flip(b []byte, at int) []byte {
	out := append([]byte{}, b...)
	out[at] ^= 0x10
	return out
}

var testTables = []string{"qu_g_settings", "qu_la_conversations", "qu_g_filecontents"}

func TestArchiveCodecs(t *testing.T) {
	sql := dumpText(testTables, 3000)
	plain := withMarker(sql)
	half := len(plain) / 2
	cases := []struct {
		name    string
		archive []byte
		pass    string
		kind    codec.Kind
	}{
		{"gzip", compress(t, plain, codec.Gzip, ""), "", codec.Gzip},
		{"gzip multi-member", append(compress(t, plain[:half], codec.Gzip, ""), compress(t, plain[half:], codec.Gzip, "")...), "", codec.Gzip},
		{"zstd", compress(t, plain, codec.Zstd, ""), "", codec.Zstd},
		{"lz4", compress(t, plain, codec.LZ4, ""), "", codec.LZ4},
		{"none", plain, "", codec.None},
		{"gzip encrypted", compress(t, plain, codec.Gzip, "pw 1"), "pw 1", codec.Gzip},
		{"zstd encrypted", compress(t, plain, codec.Zstd, "pw 2"), "pw 2", codec.Zstd},
		{"lz4 encrypted", compress(t, plain, codec.LZ4, "pw 3"), "pw 3", codec.LZ4},
		{"none encrypted", compress(t, plain, codec.None, "pw 4"), "pw 4", codec.None},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			m := manifestFor(tt.archive, sql, testTables, 3000)
			opt := Options{Manifest: m, Passphrase: func() (string, error) { return tt.pass, nil }}
			rep, err := Archive(context.Background(), bytes.NewReader(tt.archive), opt)
			if err != nil {
				t.Fatalf("Archive(%s) = %v; want nil", tt.name, err)
			}
			if !rep.OK || rep.Format != FormatLamigrate || rep.Evidence != EvidenceStrong {
				t.Errorf("Archive(%s) = ok %v format %s evidence %s; want true lamigrate strong", tt.name, rep.OK, rep.Format, rep.Evidence)
			}
			if rep.Codec != string(tt.kind) || rep.Encrypted != (tt.pass != "") {
				t.Errorf("Archive(%s) codec %s encrypted %v; want %s %v", tt.name, rep.Codec, rep.Encrypted, tt.kind, tt.pass != "")
			}
			if rep.File.Bytes != int64(len(tt.archive)) || rep.File.SHA256 != sha(tt.archive) {
				t.Errorf("Archive(%s) file = %+v; want %d %s", tt.name, rep.File, len(tt.archive), sha(tt.archive))
			}
			if rep.SQL.Bytes != int64(len(sql)) || rep.SQL.XXH3 != xxh(sql) {
				t.Errorf("Archive(%s) sql = %+v; want %d", tt.name, rep.SQL, len(sql))
			}
			if len(rep.Tables) != len(testTables) {
				t.Fatalf("Archive(%s) tables = %+v; want %v", tt.name, rep.Tables, testTables)
			}
			var sum int64
			for i, ts := range rep.Tables {
				sum += ts.Bytes
				if ts.Name != testTables[i] || ts.Inserts != 30 || ts.RowsApprox != 3000 || ts.ManifestRows != 3000 {
					t.Errorf("Archive(%s) table %d = %+v; want %s with 30 inserts, 3000 rows", tt.name, i, ts, testTables[i])
				}
			}
			if sum <= 0 || sum >= int64(len(sql)) {
				t.Errorf("Archive(%s) table bytes sum = %d; want within (0, %d)", tt.name, sum, len(sql))
			}
		})
	}
}

func TestArchiveUnchecksummedFrames(t *testing.T) {
	plain := withMarker(dumpText(testTables[:1], 10))
	var zb bytes.Buffer
	zw, _ := zstd.NewWriter(&zb, zstd.WithEncoderCRC(false))
	zw.Write(plain)
	zw.Close()
	var lb bytes.Buffer
	lw := lz4.NewWriter(&lb)
	err := lw.Apply(lz4.ChecksumOption(false))
	require.NoError(t, err, "lw.Apply")
	lw.Write(plain)
	lw.Close()
	for _, tt := range []struct {
		name    string
		archive []byte
	}{{"zstd", zb.Bytes()}, {"lz4", lb.Bytes()}} {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Archive(context.Background(), bytes.NewReader(tt.archive), Options{})
			if err != nil {
				t.Fatalf("Archive = %v; want nil", err)
			}
			if rep.Checksummed || len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "without a content checksum") {
				t.Errorf("Archive: checksummed %v notes %q; want false and a note saying the frame has no checksum", rep.Checksummed, rep.Notes)
			}
		})
	}
}

func TestArchiveFailures(t *testing.T) {
	sql := dumpText(testTables, 3000)
	plain := withMarker(sql)
	gz := compress(t, plain, codec.Gzip, "")
	zs := compress(t, plain, codec.Zstd, "")
	l4 := compress(t, plain, codec.LZ4, "")
	age := compress(t, plain, codec.Gzip, "secret")

	// A dump cut after the first statement of the second table's data,
	// then recompressed: a valid gzip that is not a whole dump.
	second := bytes.Index(sql, []byte("INSERT INTO `qu_la_conversations`"))
	cutAt := second + bytes.IndexByte(sql[second:], '\n') + 1
	cut := compress(t, sql[:cutAt], codec.Gzip, "")

	// The same dump with one changed byte inside a value and a marker
	// computed over the original.
	val := bytes.Index(sql, []byte("INSERT INTO `qu_g_filecontents`")) + 200
	altered := append(flip(sql, val), plain[len(sql):]...)

	// The marker's old form (sha256=) is not a marker this lamigrate reads.
	oldMarker := fmt.Appendf(append([]byte{}, sql...), "%sbytes=%d sha256=%s\n", manifest.MarkerPrefix, len(sql), sha(sql))
	badCount := append(append([]byte{}, sql...), manifest.Marker(int64(len(sql))+1, xxh(sql))...)
	okManifest := manifestFor(gz, sql, testTables, 3000)
	wrongFile := *okManifest
	wrongFile.File.SHA256 = sha([]byte("other"))
	wrongSize := *okManifest
	wrongSize.File.Size++
	wrongSQL := *okManifest
	wrongSQL.SQL.XXH3 = xxh([]byte("other"))
	moreTables := *okManifest
	moreTables.Tables = append(append([]manifest.Table{}, okManifest.Tables...), manifest.Table{Name: "qu_la_messages", Rows: 5})
	fewerTables := *okManifest
	fewerTables.Tables = okManifest.Tables[:2]

	cases := []struct {
		name     string
		archive  []byte
		pass     string
		m        *Manifest
		want     error
		table    string // the table the failure is located in ("" any)
		offset   int64  // the uncompressed offset (-2 any)
		mismatch string // MismatchError.What, when want is ErrMismatch
		msg      string // the message contains
	}{
		{"gzip truncated", gz[:len(gz)*2/3], "", nil, ErrIncomplete, "", -2, "", "truncated"},
		{"zstd truncated", zs[:len(zs)*2/3], "", nil, ErrIncomplete, "", -2, "", "truncated"},
		{"lz4 truncated", l4[:len(l4)*2/3], "", nil, ErrIncomplete, "", -2, "", "truncated"},
		{"encrypted truncated", age[:len(age)*2/3], "secret", nil, ErrCorrupt, "", -2, "", "damaged or truncated"},
		{"plain truncated", plain[:len(plain)/2], "", nil, ErrIncomplete, "qu_la_conversations", int64(len(plain) / 2), "", "without the completion marker"},
		{"gzip flipped byte", flip(gz, len(gz)/2), "", nil, ErrCorrupt, "", -2, "", "gzip data is damaged"},
		{"gzip flipped header byte", flip(gz, 3), "", nil, ErrCorrupt, "", -2, "", ""},
		{"gzip flipped trailer byte", flip(gz, len(gz)-6), "", nil, ErrCorrupt, "", -2, "", "gzip data is damaged"},
		{"zstd flipped byte", flip(zs, len(zs)/2), "", nil, ErrCorrupt, "", -2, "", "zstd data is damaged"},
		{"lz4 flipped byte", flip(l4, len(l4)/2), "", nil, ErrCorrupt, "", -2, "", "lz4 data is damaged"},
		{"encrypted flipped byte", flip(age, len(age)/2), "secret", nil, ErrCorrupt, "", -2, "", "damaged"},
		{"plain flipped byte", altered, "", nil, ErrCorrupt, "", -2, "", "altered"},
		{"plain flipped marker byte", flip(plain, len(plain)-3), "", nil, ErrCorrupt, "", -2, "", "completion marker is damaged"},
		{"cut at a statement and recompressed", cut, "", nil, ErrIncomplete, "qu_la_conversations", int64(cutAt), "", "without the completion marker"},
		{"marker of the old sha256 form", oldMarker, "", nil, ErrCorrupt, "", -2, "", "completion marker is damaged"},
		{"marker with the wrong length", badCount, "", nil, ErrCorrupt, "", -2, "", "marker says"},
		{"gzip with trailing garbage", append(append([]byte{}, gz...), "garbage after the end of the stream"...), "", nil, ErrCorrupt, "", -2, "", ""},
		{"empty file", nil, "", nil, ErrIncomplete, "", 0, "", "no SQL"},
		{"wrong passphrase", age, "nope", nil, codec.ErrPassphrase, "", -2, "", "passphrase"},
		{"no passphrase", age, "", nil, codec.ErrNeedPassphrase, "", -2, "", "passphrase"},
		{"manifest file sha256", gz, "", &wrongFile, ErrMismatch, "", -2, FileSHA256, "file sha256"},
		{"manifest file size", gz, "", &wrongSize, ErrMismatch, "", -2, FileSize, "file size"},
		{"manifest sql xxh3", gz, "", &wrongSQL, ErrMismatch, "", -2, SQLXXH3, "sql xxh3"},
		{"manifest table not in archive", gz, "", &moreTables, ErrMismatch, "qu_la_messages", -2, TableMissing, "not in the archive"},
		{"archive table not in manifest", gz, "", &fewerTables, ErrMismatch, "qu_g_filecontents", -2, TableExtra, "not in the manifest"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			opt := Options{Manifest: tt.m}
			if tt.pass != "" {
				opt.Passphrase = func() (string, error) { return tt.pass, nil }
			}
			rep, err := Archive(context.Background(), bytes.NewReader(tt.archive), opt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Archive(%s) = %v; want %v", tt.name, err, tt.want)
			}
			t.Logf("%s: %v", tt.name, err)
			if rep == nil || rep.OK || rep.Failure == "" || rep.Evidence != EvidenceNone {
				t.Fatalf("Archive(%s) report = %+v; want a failed report", tt.name, rep)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Archive(%s) error %q; want it to mention %q", tt.name, err, tt.msg)
			}
			var se *StreamError
			if errors.As(err, &se) {
				if tt.table != "" && se.Table != tt.table {
					t.Errorf("Archive(%s) table = %q; want %q (%v)", tt.name, se.Table, tt.table, err)
				}
				if tt.offset != -2 && se.Offset != tt.offset {
					t.Errorf("Archive(%s) offset = %d; want %d (%v)", tt.name, se.Offset, tt.offset, err)
				}
			}
			if tt.mismatch != "" {
				var me *MismatchError
				if !errors.As(err, &me) || me.What != tt.mismatch || (tt.table != "" && me.Table != tt.table) {
					t.Errorf("Archive(%s) = %#v; want a MismatchError about %s %s", tt.name, me, tt.table, tt.mismatch)
				}
			}
		})
	}
}

func TestArchiveMysqldumpTrailer(t *testing.T) {
	sql := dumpText(testTables, 50)
	for _, k := range []codec.Kind{codec.Gzip, codec.None} {
		t.Run(string(k), func(t *testing.T) {
			rep, err := Archive(context.Background(), bytes.NewReader(compress(t, sql, k, "")), Options{})
			if err != nil {
				t.Fatalf("Archive(mysqldump %s) = %v; want nil", k, err)
			}
			if rep.Format != FormatMysqldump || rep.Evidence != EvidenceWeak || len(rep.Notes) == 0 {
				t.Errorf("Archive(mysqldump %s) = format %s evidence %s notes %q; want mysqldump, weak, a note", k, rep.Format, rep.Evidence, rep.Notes)
			}
			if rep.SQL.Bytes != int64(len(sql)) || rep.SQL.XXH3 != xxh(sql) {
				t.Errorf("Archive(mysqldump %s) sql = %+v; want the whole stream (%d bytes)", k, rep.SQL, len(sql))
			}
		})
	}
}

func TestFileReadsManifestBeside(t *testing.T) {
	dir := t.TempDir()
	sql := dumpText(testTables, 100)
	gz := compress(t, withMarker(sql), codec.Gzip, "")
	path := filepath.Join(dir, "dump.sql.gz")
	err := os.WriteFile(path, gz, 0o644)
	require.NoError(t, err, "os.WriteFile")
	m := manifestFor(gz, sql, testTables, 100)
	err = manifest.Write(manifest.PathFor(path), m)
	require.NoError(t, err, "manifest.Write")
	var prog countProgress
	rep, err := File(context.Background(), path, Options{Progress: &prog})
	if err != nil || rep.Manifest != manifest.PathFor(path) {
		t.Fatalf("File = %v, manifest %q; want nil, %q", err, rep.Manifest, manifest.PathFor(path))
	}
	if prog.calls == 0 || prog.done != int64(len(gz)) || prog.total != int64(len(gz)) {
		t.Errorf("File progress = %+v; want calls ending at %d/%d", prog, len(gz), len(gz))
	}
	m.File.Size = 1
	err = manifest.Write(manifest.PathFor(path), m)
	require.NoError(t, err, "manifest.Write")
	if _, err := File(context.Background(), path, Options{}); !errors.Is(err, ErrMismatch) {
		t.Errorf("File(manifest with wrong size) = %v; want ErrMismatch", err)
	}
	if _, err := File(context.Background(), path, Options{NoManifest: true}); err != nil {
		t.Errorf("File(NoManifest) = %v; want nil", err)
	}
}

type countProgress struct {
	calls       int
	done, total int64
}

func (p *countProgress) Update(done, total int64, note string) {
	p.calls++
	p.done, p.total = done, total
}

func TestArchiveCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Archive(ctx, bytes.NewReader(withMarker(dumpText(testTables, 10))), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Archive(cancelled) = %v; want context.Canceled", err)
	}
}

func TestParseIdent(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"`abc`", "abc", true},
		{"`a``b` rest", "a`b", true},
		{"`open", "", false},
		{"abc", "", false},
		{"", "", false},
	} {
		got, ok := parseIdent([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseIdent(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzScanner feeds arbitrary streams in arbitrary chunks: the SQL sum and
// the marker must not depend on how the stream was split.
func FuzzScanner(f *testing.F) {
	f.Add(withMarker(dumpText(testTables[:1], 3)), uint16(7))
	f.Add([]byte("a\nb\n"), uint16(1))
	f.Add([]byte("\n\n\n"), uint16(2))
	f.Add(withMarker([]byte("x")), uint16(3))
	f.Add(dumpText(testTables[:2], 2), uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		run := func(n int) scanResult {
			s := newScanner(false)
			for i := 0; i < len(data); i += n {
				s.write(data[i:min(i+n, len(data))])
			}
			return s.finish()
		}
		whole := run(len(data) + 1)
		parts := run(int(step%512) + 1)
		if whole.sql != parts.sql || (whole.marker == nil) != (parts.marker == nil) || whole.lastLine != parts.lastLine {
			t.Fatalf("scan depends on chunking: whole %+v, parts %+v", whole, parts)
		}
		if whole.marker == nil {
			if whole.sql.Bytes != int64(len(data)) || whole.sql.XXH3 != xxh(data) {
				t.Fatalf("no marker: sql = %+v; want the whole stream %d", whole.sql, len(data))
			}
		} else if int64(len(data)) < whole.sql.Bytes || whole.sql.XXH3 != xxh(data[:whole.sql.Bytes]) {
			t.Fatalf("marker: sql = %+v does not cover the bytes before it", whole.sql)
		}
	})
}
