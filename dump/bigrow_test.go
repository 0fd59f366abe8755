package dump

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// TestBigRowsRoundTrip dumps rows of tens of MB: each is its own INSERT
// (larger than the 16 MiB net buffer) and loads with the stock client.
func TestBigRowsRoundTrip(t *testing.T) {
	admin, err := sql.Open("mysql", mysqltest.Server(t).FormatDSN())
	if err != nil {
		require.NoError(t, err, "sql.Open")
	}
	defer admin.Close()
	// New connections (made below) take the raised global value.
	_, err = admin.Exec("SET GLOBAL max_allowed_packet = GREATEST(@@GLOBAL.max_allowed_packet, 256*1024*1024)")
	require.NoError(t, err, "admin.Exec")
	src := mysqltest.New(t)
	src.MustExec(t, "CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT)")
	bin := make([]byte, 20<<20)
	rand.Read(bin)
	text := strings.Repeat("it's \\ \n a 😀 line\r\n", 1<<20) // ~23 MB
	for i, row := range [][2]any{{bin, "small"}, {[]byte{0, 0x27, 0x5c}, text}, {bin[:17<<20], text[:17<<20]}} {
		_, err := src.Exec("INSERT INTO big VALUES (?, ?, ?)", i, row[0], row[1])
		require.NoError(t, err, "src.Exec")
	}
	for _, hexBlob := range []bool{false, true} {
		path, m, _ := dumpFile(t, src, "big.sql.zst", Config{HexBlob: hexBlob}, Options{})
		dst := mysqltest.New(t)
		loadWithClient(t, "zstd -dc", path, dst)
		compareTables(t, m, src, dst)
		var got []byte
		err := dst.QueryRow("SELECT b FROM big WHERE id = 0").Scan(&got)
		require.NoError(t, err, "dst.QueryRow")
		if !bytes.Equal(got, bin) {
			t.Errorf("HexBlob=%v: 20 MB blob differs after the round trip (%d bytes)", hexBlob, len(got))
		}
	}
}
