package dump

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/manifest"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// runIDOf returns the run's id from a dump's text: its second line, the
// only line of the text that names one.
func runIDOf(t *testing.T, text string) string {
	t.Helper()
	lines := strings.SplitN(text, "\n", 3)
	require.Len(t, lines, 3, "a dump has more than two lines")
	m := regexp.MustCompile(`^` + DumpIDPrefix + `([0-9a-f]{32})$`).FindStringSubmatch(lines[1])
	require.NotNil(t, m, "the second line names the dump's run: %q", lines[1])
	assert.Len(t, runIDLine.FindAllString(text, -1), 1, "one run id line in the dump")
	return m[1]
}

// TestDumpRunID: every dump draws its own run id, written on the header's
// second line (one dump over several connections has one), recorded in
// the manifest and covered by the completion marker; two dumps of the same
// data differ only in it and in the time of the "Dump completed" line
// (and so in the marker).
func TestDumpRunID(t *testing.T) {
	src := mysqltest.New(t)
	src.MustExec(t,
		"CREATE TABLE a (id INT PRIMARY KEY, s VARCHAR(100))",
		"CREATE TABLE b (id INT PRIMARY KEY, v TEXT)",
		"CREATE TABLE c (id INT PRIMARY KEY)",
		"INSERT INTO c SELECT seq FROM seq_1_to_100",
		"INSERT INTO a SELECT seq, CONCAT('row ', seq) FROM seq_1_to_3000",
		"INSERT INTO b SELECT seq, REPEAT('x', seq % 50) FROM seq_1_to_2000")

	var texts [2]string
	var ids [2]string
	var ms [2]*manifest.Manifest
	for i, conns := range []int{1, 3} {
		path, m, res := dumpFile(t, src, "r.sql", Config{Connections: conns, NetBufferLength: 16 << 10}, Options{})
		require.Equal(t, conns, res.Connections, "connections that read the dump")
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		texts[i], ms[i] = string(b), m
		ids[i] = runIDOf(t, texts[i])
		assert.True(t, strings.HasPrefix(texts[i], "-- lamigrate dump (mysqldump-compatible"), "the first line still says what the file is")
		assert.Equal(t, ids[i], m.DumpID, "the manifest records the header's run id")
		assert.Equal(t, ids[i], res.DumpID, "Result.DumpID is the header's")

		// The completion marker covers the id line: it is part of the
		// hashed stream.
		body := texts[i][:strings.LastIndex(texts[i], manifest.MarkerPrefix)]
		h := manifest.NewStreamHash()
		h.Write([]byte(body))
		assert.Equal(t, m.SQL, manifest.StreamOf(int64(len(body)), h), "the marker's stream is every byte before it, the id line among them")
	}
	assert.NotEqual(t, ids[0], ids[1], "each run of the dump has its own id")
	assert.Equal(t, ms[0].SQL.Bytes, ms[1].SQL.Bytes, "the id has a fixed length: same data, same stream size")

	// Line by line, the two dumps differ in the id line and at most in the
	// time the dump completed (and the marker, which hashes both).
	l0, l1 := strings.Split(texts[0], "\n"), strings.Split(texts[1], "\n")
	require.Equal(t, len(l0), len(l1), "same data, same number of lines")
	var differ []string
	for i := range l0 {
		if l0[i] == l1[i] {
			continue
		}
		switch {
		case i == 1:
			differ = append(differ, "id")
		case strings.HasPrefix(l0[i], "-- Dump completed on ") && strings.HasPrefix(l1[i], "-- Dump completed on "):
		case strings.HasPrefix(l0[i], manifest.MarkerPrefix) && strings.HasPrefix(l1[i], manifest.MarkerPrefix):
		default:
			t.Errorf("line %d differs between two dumps of the same data:\n%q\n%q", i+1, l0[i], l1[i])
		}
	}
	assert.Equal(t, []string{"id"}, differ, "the id line differs")
	assert.Equal(t, withoutRunID(dumpTail.ReplaceAllString(texts[0], "")), withoutRunID(dumpTail.ReplaceAllString(texts[1], "")),
		"without the id and the completion time, the dumps are the same bytes")
}

// TestDeltaRunID: a delta names its run as a full dump does, on the
// second line after its own first line, and in its manifest.
func TestDeltaRunID(t *testing.T) {
	src := mysqltest.New(t)
	src.MustExec(t, "CREATE TABLE a (id INT PRIMARY KEY, s VARCHAR(100))", "INSERT INTO a SELECT seq, seq FROM seq_1_to_500")
	base, bm, _ := dumpFile(t, src, "base.sql", Config{}, Options{})
	src.MustExec(t, "UPDATE a SET s = 'changed' WHERE id = 7")
	path, m, res, err := deltaFile(t, src, filepath.Dir(base), "delta.sql", manifest.PathFor(base), Config{Live: true}, Options{})
	require.NoError(t, err, "the delta")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	id := runIDOf(t, string(b))
	assert.True(t, strings.HasPrefix(string(b), "-- lamigrate delta dump (mysqldump-compatible"), "the first line still says it is a delta")
	assert.Equal(t, id, m.DumpID, "the delta's manifest records its header's run id")
	assert.Equal(t, id, res.DumpID)
	assert.NotEqual(t, bm.DumpID, id, "the delta is another run than its base")
	assert.Len(t, bm.DumpID, 32, "the base's manifest records its own id")
}
