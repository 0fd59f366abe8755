// Package codec wraps a byte stream in one of lamigrate's archive formats:
// gzip, zstd, lz4 (frame format) or none, optionally encrypted with an age
// passphrase. Writers compress then encrypt, on Threads goroutines (gzip in
// 1 MiB blocks, zstd in independent 1 MiB frames); NewReader detects both
// layers from the stream's first bytes, so a reader never needs the file
// name.
package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/pierrec/lz4/v4"
)

// Kind names a compression format.
type Kind string

// The formats lamigrate writes and reads.
const (
	Gzip Kind = "gzip"
	Zstd Kind = "zstd"
	LZ4  Kind = "lz4"
	None Kind = "none"
)

// DefaultLevel is the level used when WriterOptions.Level is 0. zstd's is 1
// (klauspost's SpeedFastest; 1-2 map to it, 3-5 to SpeedDefault): on a dump
// of the bench database it writes 215.9 MB, below gzip level 3's 216.1 MB
// and the documented `gzip -9` file's 226.5 MB, for about three quarters of
// level 3's CPU (BenchmarkDumpLike; level 3: 214.5 MB).
var DefaultLevel = map[Kind]int{Gzip: 6, Zstd: 1, LZ4: 1, None: 0}

// ErrPassphrase reports an encrypted stream that the given passphrase does not open.
var ErrPassphrase = errors.New("codec: wrong passphrase")

// ErrNeedPassphrase reports an encrypted stream read without a passphrase source.
var ErrNeedPassphrase = errors.New("codec: archive is encrypted; a passphrase is needed")

const ageHeader = "age-encryption.org/v1\n"

// ParseKind turns a --compress value into a Kind.
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(s) {
	case "gzip", "gz":
		return Gzip, nil
	case "zstd", "zst":
		return Zstd, nil
	case "lz4":
		return LZ4, nil
	case "none", "":
		return None, nil
	}
	return "", fmt.Errorf("codec: unknown compression %q (want gzip, zstd, lz4 or none)", s)
}

// KindFromPath picks the format from a file name: .gz, .zst, .lz4, anything
// else none. A trailing .age (encryption) is looked through.
func KindFromPath(path string) Kind {
	p := strings.TrimSuffix(strings.ToLower(path), ".age")
	switch filepath.Ext(p) {
	case ".gz", ".gzip":
		return Gzip
	case ".zst", ".zstd":
		return Zstd
	case ".lz4":
		return LZ4
	}
	return None
}

// Extensions lists the archive names lamigrate writes, for messages.
const Extensions = ".sql, .sql.gz, .sql.zst, .sql.lz4 (each optionally + .age)"

// KindOfName picks the format from a file name that ends in one of
// lamigrate's extensions (.sql, .gz/.gzip, .zst/.zstd, .lz4, each
// optionally + .age); ok is false for any other name (x.sql.bz2, x.dump),
// whose content a reader would mistake.
func KindOfName(path string) (k Kind, ok bool) {
	p := strings.TrimSuffix(strings.ToLower(path), ".age")
	switch filepath.Ext(p) {
	case ".sql":
		return None, true
	case ".gz", ".gzip", ".zst", ".zstd", ".lz4":
		return KindFromPath(p), true
	}
	return None, false
}

// Encrypted reports whether a file name asks for encryption (ends in .age).
func Encrypted(path string) bool { return strings.HasSuffix(strings.ToLower(path), ".age") }

// WriterOptions tune NewWriter.
type WriterOptions struct {
	Level      int    // 0: DefaultLevel for the kind
	Threads    int    // compression goroutines; 0: GOMAXPROCS
	Passphrase string // non-empty: encrypt with age (scrypt)
}

// NewWriter returns a writer that compresses (and optionally encrypts) into w.
// Close must be called and its error checked: it writes the trailers. Close
// does not close w.
func NewWriter(w io.Writer, k Kind, opt WriterOptions) (io.WriteCloser, error) {
	level := opt.Level
	if level == 0 {
		level = DefaultLevel[k]
	}
	threads := opt.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	var layers []io.Closer
	dst := w
	if opt.Passphrase != "" {
		rcpt, err := age.NewScryptRecipient(opt.Passphrase)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		ew, err := age.Encrypt(w, rcpt)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		dst = ew
		layers = append(layers, ew)
	}
	var cw io.WriteCloser
	switch k {
	case Gzip:
		if level < 1 || level > 9 {
			return nil, fmt.Errorf("codec: gzip level %d out of range 1-9", level)
		}
		gw, err := pgzip.NewWriterLevel(dst, level)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		if err := gw.SetConcurrency(1<<20, 2*threads); err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		cw = gw
	case Zstd:
		if level < 1 || level > 22 {
			return nil, fmt.Errorf("codec: zstd level %d out of range 1-22", level)
		}
		zw, err := newZstdWriter(dst, level, threads)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		cw = zw
	case LZ4:
		lw := lz4.NewWriter(dst)
		opts := []lz4.Option{lz4.ChecksumOption(true), lz4.ConcurrencyOption(threads)}
		if level > 1 {
			opts = append(opts, lz4.CompressionLevelOption(lz4.CompressionLevel(1<<(8+level))))
		}
		if err := lw.Apply(opts...); err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		cw = lw
	case None:
		cw = nopCloser{dst}
	default:
		return nil, fmt.Errorf("codec: unknown compression %q", k)
	}
	return &stack{Writer: cw, closers: append([]io.Closer{cw}, reverse(layers)...)}, nil
}

func reverse(c []io.Closer) []io.Closer {
	out := make([]io.Closer, len(c))
	for i := range c {
		out[len(c)-1-i] = c[i]
	}
	return out
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

type stack struct {
	io.Writer
	closers []io.Closer
}

func (s *stack) Close() error {
	var first error
	for _, c := range s.closers {
		if err := c.Close(); err != nil && first == nil {
			first = fmt.Errorf("codec: finishing archive: %w", err)
		}
	}
	return first
}

// Info describes what NewReader found.
type Info struct {
	Kind      Kind
	Encrypted bool
	// Checksummed is false when the format carries no checksum of the
	// content (plain SQL; an lz4 or zstd frame written without one).
	Checksummed bool
}

// NewReader detects the encryption and compression of r and returns a reader
// of the plain stream. passphrase is called only for an encrypted stream; it
// may be nil. The returned reader must be closed (it may hold goroutines).
func NewReader(r io.Reader, passphrase func() (string, error)) (io.ReadCloser, Info, error) {
	var info Info
	br := bufio.NewReaderSize(r, 1<<20)
	head, _ := br.Peek(len(ageHeader))
	var src io.Reader = br
	if bytes.Equal(head, []byte(ageHeader)) {
		info.Encrypted = true
		if passphrase == nil {
			return nil, info, ErrNeedPassphrase
		}
		pw, err := passphrase()
		if err != nil {
			return nil, info, err
		}
		id, err := age.NewScryptIdentity(pw)
		if err != nil {
			return nil, info, fmt.Errorf("codec: %w", err)
		}
		dr, err := age.Decrypt(br, id)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) {
				return nil, info, ErrPassphrase
			}
			return nil, info, fmt.Errorf("codec: opening encrypted archive: %w", err)
		}
		inner := bufio.NewReaderSize(dr, 1<<20)
		br = inner
		src = inner
	}
	magic, _ := br.Peek(6)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		info.Kind, info.Checksummed = Gzip, true
		gr, err := pgzip.NewReaderN(src, 1<<20, 4)
		if err != nil {
			return nil, info, fmt.Errorf("codec: gzip header: %w", err)
		}
		return gr, info, nil
	case len(magic) >= 4 && bytes.Equal(magic[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		info.Kind = Zstd
		if len(magic) >= 5 {
			info.Checksummed = magic[4]&0x04 != 0
		}
		zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			return nil, info, fmt.Errorf("codec: zstd header: %w", err)
		}
		return zstdCloser{zr}, info, nil
	case len(magic) >= 5 && bytes.Equal(magic[:4], []byte{0x04, 0x22, 0x4d, 0x18}):
		info.Kind = LZ4
		info.Checksummed = magic[4]&0x04 != 0
		lr := lz4.NewReader(src)
		return io.NopCloser(lr), info, nil
	}
	info.Kind = None
	return io.NopCloser(src), info, nil
}

type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }
