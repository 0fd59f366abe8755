package manifest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMarkerRoundTrip(t *testing.T) {
	sum := strings.Repeat("ab", 16)
	line := Marker(12345, sum)
	if want := "-- lamigrate dump completed bytes=12345 xxh3=" + sum + "\n"; line != want {
		t.Errorf("Marker = %q; want %q", line, want)
	}
	n, s, err := ParseMarker(line)
	if err != nil || n != 12345 || s != sum {
		t.Errorf("ParseMarker(%q) = %d, %s, %v; want 12345, %s, nil", line, n, s, err, sum)
	}
	for _, bad := range []string{"", "-- Dump completed on 2024", markerPrefix + "bytes=1 xxh3=xyz",
		strings.TrimSuffix(line, "\n") + " extra",
		markerPrefix + "bytes=1 xxh3=" + strings.Repeat("ab", 32),   // too long
		markerPrefix + "bytes=1 xxh3=" + strings.ToUpper(sum),       // upper case
		markerPrefix + "bytes=1 sha256=" + strings.Repeat("ab", 32), // the old form
		markerPrefix + "bytes=1 sha256=" + sum} {
		if _, _, err := ParseMarker(bad); err == nil {
			t.Errorf("ParseMarker(%q) err = nil; want ErrNoMarker", bad)
		}
	}
}

func TestWriteRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d.sql.gz"+Suffix)
	m := &Manifest{Format: FormatVersion, Database: "db", Tables: []Table{{Name: "t", Rows: 3, Digest: "x"}}}
	require.NoError(t, Write(p, m), "writing the manifest")
	got, err := Read(p)
	require.NoError(t, err, "reading the manifest back")
	if got.Table("t") == nil || got.Table("t").Rows != 3 || got.Table("u") != nil {
		t.Errorf("Read = %+v; want table t with 3 rows", got)
	}
	os.WriteFile(p, []byte(`{"format":99}`), 0o644)
	if _, err := Read(p); err == nil {
		t.Error("Read(format 99) err = nil; want error")
	}
	os.WriteFile(p, []byte(`{`), 0o644)
	if _, err := Read(p); err == nil {
		t.Error("Read(bad json) err = nil; want error")
	}
}

// TestStreamHash pins the stream hash to XXH3-128 with its canonical
// (big-endian) hex, using the reference implementation's values.
func TestStreamHash(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "99aa06d3014798d86001c324468d497f"},
		{"abc", "06b05ab6733a618578af5f94892f3950"},
	} {
		h := NewStreamHash()
		h.Write([]byte(tt.in))
		s := StreamOf(int64(len(tt.in)), h)
		if s.Bytes != int64(len(tt.in)) || s.XXH3 != tt.want {
			t.Errorf("StreamOf(%q) = %+v; want xxh3 %s", tt.in, s, tt.want)
		}
		if n, sum, err := ParseMarker(s.Marker()); err != nil || n != s.Bytes || sum != s.XXH3 {
			t.Errorf("ParseMarker(%q) = %d, %s, %v", s.Marker(), n, sum, err)
		}
	}
}

// TestWriteMode checks the manifest is as private as the dump it describes,
// also when it replaces an older world-readable one and under a lax umask.
func TestWriteMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	fresh := filepath.Join(dir, "new.sql.gz"+Suffix)
	replaced := filepath.Join(dir, "old.sql.gz"+Suffix)
	require.NoError(t, os.WriteFile(replaced, []byte("{}"), 0o644))
	require.NoError(t, os.Chmod(replaced, 0o644))
	for _, p := range []string{fresh, replaced} {
		require.NoError(t, Write(p, &Manifest{Format: FormatVersion, Database: "db"}))
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "mode of %s", filepath.Base(p))
	}
}

func TestWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.sql.gz.manifest.json")
	ctx := context.Background()
	if _, err := Wait(ctx, path, 150*time.Millisecond); !errors.Is(err, ErrNotThere) {
		t.Fatalf("Wait for a manifest that never comes = %v; want ErrNotThere", err)
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		Write(path, &Manifest{Format: FormatVersion, Database: "la"})
	}()
	m, err := Wait(ctx, path, 5*time.Second)
	if err != nil || m.Database != "la" {
		t.Fatalf("Wait for a manifest written later = %+v, %v; want it", m, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Wait(cctx, filepath.Join(t.TempDir(), "x"), time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait cancelled = %v; want context.Canceled", err)
	}
}
