package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/qualityunit/lamigrate/internal/atomicfile"
)

// Local is a Backend storing files in a folder of this machine (a mounted
// share, a USB disk). Renames are atomic (rename(2)) and followed by an
// fsync of the folder.
type Local struct {
	dir string
}

var _ Backend = (*Local)(nil)

// NewLocal returns a Backend for the folder dir. The folder is created on
// the first Write if it does not exist.
func NewLocal(dir string) *Local { return &Local{dir: dir} }

// String names the folder with a trailing separator, so String()+name is
// the file's path.
func (l *Local) String() string {
	if strings.HasSuffix(l.dir, string(filepath.Separator)) {
		return l.dir
	}
	return l.dir + string(filepath.Separator)
}

// path maps a backend name onto the folder, refusing names that leave it.
func (l *Local) path(name string) (string, error) {
	clean := path.Clean("/" + name)
	if clean == "/" || strings.Contains(name, "\x00") {
		return "", fmt.Errorf("transfer: invalid file name %q", name)
	}
	return filepath.Join(l.dir, filepath.FromSlash(clean[1:])), nil
}

// Folder implements Backend.
func (l *Local) Folder(ctx context.Context, create bool) error {
	dir := filepath.Clean(l.dir)
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("transfer: %s is not a folder", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("transfer: %w", err)
	case !create:
		return &FolderError{Folder: dir}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	return nil
}

// Stat implements Backend.
func (l *Local) Stat(ctx context.Context, name string) (int64, error) {
	p, err := l.path(name)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, fmt.Errorf("transfer: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("transfer: %s is not a regular file", p)
	}
	return fi.Size(), nil
}

// Open implements Backend.
func (l *Local) Open(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("transfer: %w", err)
	}
	return f, nil
}

// Write implements Backend.
func (l *Local) Write(ctx context.Context, name string, off int64, r io.Reader) (n int64, err error) {
	f, err := l.create(name, off)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("transfer: %w", cerr)
		}
	}()
	// A reader with WriteTo (SFTP's, many requests in flight) is used as
	// such; others are read in large pieces.
	n, err = io.CopyBuffer(ctxWriter{ctx, f}, r, make([]byte, 1<<20))
	if err != nil {
		return n, fmt.Errorf("transfer: writing %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("transfer: %w", err)
	}
	return n, nil
}

// create opens name for writing at off (see openAt), making it and its
// folder as needed. The file is owner-only, as every file we write: an
// archive holds the customer's whole help desk.
func (l *Local) create(name string, off int64) (*os.File, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("transfer: %w", err)
	}
	if err := openAt(f, off); err != nil {
		f.Close()
		return nil, fmt.Errorf("transfer: writing %s: %w", p, err)
	}
	return f, nil
}

// Rename implements Backend.
func (l *Local) Rename(ctx context.Context, oldname, newname string) error {
	op, err := l.path(oldname)
	if err != nil {
		return err
	}
	np, err := l.path(newname)
	if err != nil {
		return err
	}
	if err := atomicfile.Rename(op, np); err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	return nil
}

// Remove implements Backend.
func (l *Local) Remove(ctx context.Context, name string) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	return nil
}

// Hash implements Backend.
func (l *Local) Hash(ctx context.Context, name string, n int64) (string, HashMethod, error) {
	p, err := l.path(name)
	if err != nil {
		return "", "", err
	}
	sum, err := hashLocalFile(ctx, p, n)
	return sum, HashLocal, err
}

// hashLocalFile returns the hex SHA-256 of p's first n bytes (n < 0: all).
func hashLocalFile(ctx context.Context, p string, n int64) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("transfer: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if err := hashPrefix(ctx, h, f, n, p); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashPrefix feeds r's first n bytes (n < 0: all) into w.
func hashPrefix(ctx context.Context, w io.Writer, r io.Reader, n int64, name string) error {
	var src io.Reader = ctxReader{ctx, r}
	if n >= 0 {
		src = io.LimitReader(src, n)
	}
	got, err := io.CopyBuffer(w, src, make([]byte, 1<<20))
	if err != nil {
		return fmt.Errorf("transfer: hashing %s: %w", name, err)
	}
	if n >= 0 && got < n {
		return fmt.Errorf("transfer: hashing %s: it holds %d bytes, fewer than %d", name, got, n)
	}
	return nil
}

// Close implements Backend.
func (l *Local) Close() error { return nil }

// ctxReader ends a copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ctxWriter ends a copy when ctx is cancelled.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
