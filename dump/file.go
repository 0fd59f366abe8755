package dump

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/codec"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// PartialSuffix is appended to the archive's name while it is written.
const PartialSuffix = ".partial"

// ErrNeedPassphrase reports encryption asked for without a passphrase.
var ErrNeedPassphrase = errors.New("dump: encryption needs a passphrase")

// FileResult describes the archive File wrote (or WriteArchive, for an
// archive of that name). Its JSON keys are those `lamigrate dump --json`
// prints at its top level: "file" is the archive's path.
type FileResult struct {
	Path        string `json:"file"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Compression string `json:"compression"`
	Level       int    `json:"level"`
	Encrypted   bool   `json:"encrypted"`
	// Manifest is the path of FILE.manifest.json.
	Manifest string `json:"manifest"`
}

// Kind returns the compression File uses for path: the one the file's
// extension names (.sql, .sql.gz, .sql.zst, .sql.lz4, each optionally
// + .age), or Config.Compression. A name with another extension
// (x.sql.bz2, x.dump) needs Config.Compression; a Config.Compression
// that contradicts the extension (x.sql.gz with zstd) is refused. Both
// are ErrArchiveName.
func (c *Config) Kind(path string) (codec.Kind, error) {
	named, ok := codec.KindOfName(path)
	if c.Compression == "" {
		if !ok {
			return "", fmt.Errorf("%w: %s does not end in %s; rename it, or name the compression explicitly", ErrArchiveName, filepath.Base(path), codec.Extensions)
		}
		return named, nil
	}
	k, err := codec.ParseKind(c.Compression)
	if err != nil {
		return "", fmt.Errorf("dump: %w", err)
	}
	if ok && k != named {
		return "", fmt.Errorf("%w: %s names %s compression, but %s was asked for; rename the file or drop the compression option", ErrArchiveName, filepath.Base(path), named, k)
	}
	return k, nil
}

// ErrArchiveName: the archive's file name does not say what it holds.
var ErrArchiveName = errors.New("dump: archive name does not match its format")

func (c *Config) level(k codec.Kind) int {
	if c.Level != 0 {
		return c.Level
	}
	if k == codec.Gzip {
		return DefaultGzipLevel
	}
	return codec.DefaultLevel[k]
}

// File dumps cfg.Database into the archive at path: it writes
// path+".partial" through the codec (compression from Config.Compression or
// the extension; age encryption with the passphrase opt.Passphrase yields
// when Config.Encrypt or the name ends in .age, asked before anything
// else), fsyncs it, renames it to path and writes manifest.PathFor(path)
// beside it. On any failure, the manifest's
// included, it removes the partial file and whatever it had renamed into
// place (the archive, its row digests and changes files) and returns one
// error naming what failed; path is then not created.
// It reserves one connection of db for the snapshot, and more for
// parallel reading (Config.Connections).
func File(ctx context.Context, db *sql.DB, path string, cfg Config, opt Options) (*Result, error) {
	return toFile(ctx, db, path, cfg, opt, nil)
}

// toFile is File with a hook that wraps the file's writer (tests inject
// failures with it).
func toFile(ctx context.Context, db *sql.DB, path string, cfg Config, opt Options, wrap func(io.Writer) io.Writer) (res *Result, err error) {
	a, err := cfg.archive(path, opt)
	if err != nil {
		return nil, err
	}
	partial := path + PartialSuffix
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(partial)
		}
	}()
	rpath := chunk.PathFor(path)
	rpartial := rpath + PartialSuffix
	rf, err := os.OpenFile(rpartial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	defer func() {
		if err != nil {
			rf.Close()
			os.Remove(rpartial)
		}
	}()
	opt.RowDigests = rf
	// A delta's changes file, beside the others.
	cpath := chunk.ChangesPathFor(path)
	cpartial := cpath + PartialSuffix
	var cf *os.File
	if cfg.Since != "" {
		if cf, err = os.OpenFile(cpartial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return nil, fmt.Errorf("dump: %w", err)
		}
		defer func() {
			if err != nil {
				cf.Close()
				os.Remove(cpartial)
			}
		}()
		opt.changes = cf
	}
	var dst io.Writer = f
	if wrap != nil {
		dst = wrap(f)
	}
	res, err = a.write(ctx, db, dst, cfg, opt, filepath.Dir(path), partial)
	if err != nil {
		return nil, err
	}
	files := []struct {
		f    *os.File
		name string
	}{{f, partial}, {rf, rpartial}}
	if cf != nil {
		files = append(files, struct {
			f    *os.File
			name string
		}{cf, cpartial})
	}
	for _, x := range files {
		if err = x.f.Sync(); err != nil {
			return nil, fmt.Errorf("dump: writing %s: %w", x.name, err)
		}
		if err = x.f.Close(); err != nil {
			return nil, fmt.Errorf("dump: writing %s: %w", x.name, err)
		}
	}
	mpath := manifest.PathFor(path)
	// A manifest of an older archive at path must not describe the new one.
	if err = os.Remove(mpath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("dump: removing the old %s: %w", mpath, err)
	}
	// The files move into place, the manifest last. A failure on the way
	// removes those already moved: a failed File leaves nothing, and an
	// archive whose manifest could not be written is not left behind (it
	// is whole, but verify, push and import could not check it).
	var placed []string
	defer func() {
		if err != nil {
			for _, p := range placed {
				os.Remove(p)
			}
			syncDir(filepath.Dir(path))
		}
	}()
	if err = os.Rename(rpartial, rpath); err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	placed = append(placed, rpath)
	if cf != nil {
		if err = os.Rename(cpartial, cpath); err != nil {
			return nil, fmt.Errorf("dump: %w", err)
		}
		placed = append(placed, cpath)
	} else if err = os.Remove(cpath); err != nil && !errors.Is(err, os.ErrNotExist) {
		// A changes file of an older delta at path must not sit beside a full dump.
		return nil, fmt.Errorf("dump: removing the old %s: %w", cpath, err)
	}
	if err = os.Rename(partial, path); err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	placed = append(placed, path)
	syncDir(filepath.Dir(path))
	res.RowDigests.Path = rpath
	if err = manifest.Write(mpath, res.Manifest(opt.ToolVersion)); err != nil {
		return nil, fmt.Errorf("dump: writing the manifest %s: %w (the archive was removed, as nothing can check it without its manifest: fix that, then run the dump again)", filepath.Base(mpath), err)
	}
	return res, nil
}

// archive is what an archive's name and the configuration decide before
// anything is read or written.
type archive struct {
	name       string
	kind       codec.Kind
	level      int
	encrypt    bool
	passphrase string // "" unless encrypt
}

// archive checks cfg for an archive named name, settles its format and,
// when it is encrypted, asks opt.Passphrase for its passphrase.
func (c *Config) archive(name string, opt Options) (archive, error) {
	if err := c.Validate(); err != nil {
		return archive{}, err
	}
	kind, err := c.Kind(name)
	if err != nil {
		return archive{}, err
	}
	pw, err := c.passphrase(name, opt)
	if err != nil {
		return archive{}, err
	}
	return archive{name: name, kind: kind, level: c.level(kind), encrypt: c.encrypted(name), passphrase: pw}, nil
}

// encrypted reports whether the archive named name is encrypted:
// Config.Encrypt, or a name ending in .age (codec.Encrypted).
func (c *Config) encrypted(name string) bool { return c.Encrypt || codec.Encrypted(name) }

// passphrase asks opt.Passphrase for the passphrase of the archive named
// name: "" without asking when it is not encrypted, ErrNeedPassphrase
// when there is nothing to ask or the answer is empty.
func (c *Config) passphrase(name string, opt Options) (string, error) {
	if !c.encrypted(name) {
		return "", nil
	}
	if opt.Passphrase == nil {
		return "", ErrNeedPassphrase
	}
	pw, err := opt.Passphrase()
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", ErrNeedPassphrase
	}
	return pw, nil
}

// AskPassphrase asks opt.Passphrase now, as File and WriteArchive would,
// for the passphrase of the archive named name, and returns opt with a
// Passphrase that answers it without asking again; when the archive is not
// encrypted it asks nothing and returns opt as it is. A caller that
// creates the archive's destination before the dump (an upload) asks
// first, so a missing passphrase fails before anything exists. Its errors
// are File's: ErrNeedPassphrase, or the function's own as it is.
func (c *Config) AskPassphrase(name string, opt Options) (Options, error) {
	pw, err := c.passphrase(name, opt)
	if err != nil || pw == "" {
		return opt, err
	}
	opt.Passphrase = func() (string, error) { return pw, nil }
	return opt, nil
}

// write dumps into w through the codec and returns the Result with File
// set to the bytes w received (their size and SHA-256). Extra connections
// spill into spillDir; where names w's destination in messages. The
// process runs under MemoryLimit meanwhile unless it has a limit.
func (a archive) write(ctx context.Context, db *sql.DB, w io.Writer, cfg Config, opt Options, spillDir, where string) (*Result, error) {
	defer limitMemory()()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("dump: connecting: %w", err)
	}
	defer conn.Close()
	fh := newHashWriter(w, sha256.New())
	cw, err := codec.NewWriter(fh, a.kind, codec.WriterOptions{Level: a.level, Threads: cfg.Threads, Passphrase: a.passphrase})
	if err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	res, err := stream(ctx, db, conn, cw, cfg, opt, spillDir)
	if err != nil {
		cw.Close()
		return nil, err
	}
	if err := cw.Close(); err != nil {
		return nil, fmt.Errorf("dump: writing %s: %w", where, err)
	}
	if res.RowDigests != nil {
		res.RowDigests.Path = chunk.PathFor(a.name)
	}
	res.File = &FileResult{Path: a.name, Size: fh.n, SHA256: hex.EncodeToString(fh.h.Sum(nil)),
		Compression: string(a.kind), Level: a.level, Encrypted: a.encrypt, Manifest: manifest.PathFor(a.name)}
	return res, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Manifest returns the manifest describing the dump.
func (r *Result) Manifest(toolVersion string) *manifest.Manifest {
	m := &manifest.Manifest{
		Format:      manifest.FormatVersion,
		Tool:        "lamigrate",
		ToolVersion: toolVersion,
		Created:     r.Started,
		DumpID:      r.DumpID,
		Server:      r.Server,
		Database:    r.Database,
		Views:       r.Views,
		Triggers:    r.Triggers,
		Routines:    nonNilObjects(r.Routines),
		Events:      nonNilObjects(r.Events),
		Ignored:     r.Ignored,
		SQL:         r.SQL,
		Options:     manifest.Options{IgnoreList: r.IgnoreList, Compression: string(codec.None), StripDefiners: r.StripDefiners},
	}
	if m.Ignored == nil {
		m.Ignored = []string{}
	}
	if m.Options.IgnoreList == nil {
		m.Options.IgnoreList = []string{}
	}
	for _, t := range r.Tables {
		m.Tables = append(m.Tables, manifest.Table{Name: t.Name, Engine: t.Engine, Rows: t.Rows, Digest: t.Digest, Consistent: t.Consistent,
			Definition: t.Definition, AutoIncrement: t.AutoIncrement})
	}
	if m.Tables == nil {
		m.Tables = []manifest.Table{}
	}
	if r.File != nil {
		m.Options.Compression = r.File.Compression
		m.Options.Level = r.File.Level
		m.Options.Encrypted = r.File.Encrypted
		m.File = manifest.File{Name: filepath.Base(r.File.Path), Size: r.File.Size, SHA256: r.File.SHA256}
	}
	if r.Delta != nil {
		dl := *r.Delta
		if r.File != nil {
			dl.Changes.Name = filepath.Base(chunk.ChangesPathFor(r.File.Path))
		}
		if dl.Tables == nil {
			dl.Tables = []manifest.DeltaTable{}
		}
		m.Delta = &dl
	}
	if rd := r.RowDigests; rd != nil {
		m.RowDigests = &manifest.RowDigests{Name: filepath.Base(rd.Path), Size: rd.Size, SHA256: rd.SHA256,
			Contract: rd.Contract, TimeZone: chunk.TimeZone, Charset: chunk.Charset,
			Tables: rd.Tables, Keyed: rd.Keyed, Rows: rd.Rows}
	}
	return m
}

func nonNilObjects(s []manifest.Object) []manifest.Object {
	if s == nil {
		return []manifest.Object{}
	}
	return s
}
