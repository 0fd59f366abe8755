package verify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// The real dumper's archives and manifests pass both checks, and a cut one
// does not.
func TestWithRealDumper(t *testing.T) {
	db := mysqltest.New(t)
	seed(t, db)
	ctx := context.Background()
	for _, name := range []string{"dump.sql.gz", "dump.sql.zst", "dump.sql.lz4", "dump.sql"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			if _, err := dump.File(ctx, db.DB, path, dump.Config{Database: db.Name}, dump.Options{}); err != nil {
				t.Fatalf("dump.File: %v", err)
			}
			rep, err := File(ctx, path, Options{})
			if err != nil || rep.Format != FormatLamigrate || rep.Evidence != EvidenceStrong || rep.Manifest == "" {
				t.Fatalf("File(%s from dump) = %v (format %s, evidence %s, manifest %q); want nil, lamigrate, strong, with manifest",
					name, err, rep.Format, rep.Evidence, rep.Manifest)
			}
			m, err := ReadManifest(ManifestPath(path))
			if err != nil {
				require.NoError(t, err, "ReadManifest")
			}
			if _, err := Database(ctx, db.DB, m, Options{}); err != nil {
				t.Errorf("Database(source of %s) = %v; want nil", name, err)
			}
			b, _ := os.ReadFile(path)
			os.WriteFile(path, b[:len(b)-40], 0o644)
			if _, err := File(ctx, path, Options{NoManifest: true}); !errors.Is(err, ErrIncomplete) && !errors.Is(err, ErrCorrupt) {
				t.Errorf("File(%s cut by 40 bytes) = %v; want ErrIncomplete or ErrCorrupt", name, err)
			}
		})
	}
}
