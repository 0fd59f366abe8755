package dump

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestFileRefusesUnknownExtension(t *testing.T) {
	db := mysqltest.New(t)
	dir := t.TempDir()
	for _, name := range []string{"x.sql.bz2", "x.dump"} {
		_, err := File(context.Background(), db.DB, filepath.Join(dir, name), Config{Database: db.Name}, Options{})
		if !errors.Is(err, ErrArchiveName) {
			t.Errorf("File(%s) = %v; want ErrArchiveName", name, err)
		}
	}
	if _, err := File(context.Background(), db.DB, filepath.Join(dir, "x.sql.gz"), Config{Database: db.Name, Compression: "lz4"}, Options{}); !errors.Is(err, ErrArchiveName) {
		t.Errorf("File(x.sql.gz, lz4) = %v; want ErrArchiveName", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused dumps left %v", entries)
	}
	if _, err := File(context.Background(), db.DB, filepath.Join(dir, "x.dump"), Config{Database: db.Name, Compression: "none"}, Options{}); err != nil {
		t.Errorf("File(x.dump, none) = %v; want nil", err)
	}
}
