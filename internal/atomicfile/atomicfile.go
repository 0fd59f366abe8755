package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, mode perm, atomically (see the package
// documentation). Its errors are the file system's, naming the file; the
// caller says what was being written.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	SyncDir(dir)
	return nil
}

// Rename renames oldpath to newpath and fsyncs the folder (both folders
// when they differ), so that the rename survives a crash. The file itself
// must already be synced.
func Rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	dir := filepath.Dir(newpath)
	SyncDir(dir)
	if od := filepath.Dir(oldpath); od != dir {
		SyncDir(od)
	}
	return nil
}

// SyncDir fsyncs the folder dir, making the renames and removals in it
// durable. Failures are ignored: some file systems refuse to fsync a
// folder, and nothing the caller could do would change that.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
