package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMarkerRoundTrip(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	line := Marker(12345, sum)
	n, s, err := ParseMarker(line)
	if err != nil || n != 12345 || s != sum {
		t.Errorf("ParseMarker(%q) = %d, %s, %v; want 12345, %s, nil", line, n, s, err, sum)
	}
	for _, bad := range []string{"", "-- Dump completed on 2024", markerPrefix + "bytes=1 sha256=xyz", strings.TrimSuffix(line, "\n") + " extra"} {
		if _, _, err := ParseMarker(bad); err == nil {
			t.Errorf("ParseMarker(%q) err = nil; want ErrNoMarker", bad)
		}
	}
}

func TestWriteRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d.sql.gz"+Suffix)
	m := &Manifest{Format: FormatVersion, Database: "db", Tables: []Table{{Name: "t", Rows: 3, Digest: "x"}}}
	if err := Write(p, m); err != nil {
		t.Fatal(err)
	}
	got, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
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
