package load

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestParseStmtKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key     string
		unit    string
		ordinal int64
		ok      bool
	}{
		{stmtKey(unitKey("t"), 7), "t:t", 7, true},
		{stmtKey(unitKey("a#1"), 12), "t:a#1", 12, true}, // a '#' in the table's name
		{"t:t", "", 0, false},
		{"t:t#x", "", 0, false},
	}
	for _, tt := range tests {
		u, ord, ok := parseStmtKey(tt.key)
		if u != tt.unit || ord != tt.ordinal || ok != tt.ok {
			t.Errorf("parseStmtKey(%q) = %q, %d, %v; want %q, %d, %v", tt.key, u, ord, ok, tt.unit, tt.ordinal, tt.ok)
		}
	}
}

// TestProgressTableRoundTrip: what a run records is what the next run
// reads, key by key.
func TestProgressTableRoundTrip(t *testing.T) {
	t.Parallel()
	db := mysqltest.New(t)
	ctx := context.Background()
	c, err := db.Conn(ctx)
	require.NoError(t, err, "connecting to the test database")
	defer c.Close()

	id := "0123456789abcdef0123456789abcdef"
	require.NoError(t, createProgress(ctx, c, "fp1", id))
	require.NoError(t, record(ctx, c, unitKey("done"), "done", 3, 0))
	require.NoError(t, record(ctx, c, unitKey("half"), "data", 2, 0))
	require.NoError(t, record(ctx, c, stmtKey(unitKey("half"), 4), "stmt", 0, 10))
	require.NoError(t, record(ctx, c, stmtKey(unitKey("half"), 6), "stmt", 0, 10))
	require.NoError(t, record(ctx, c, globalKey(1234), "done", 0, 0))
	require.NoError(t, record(ctx, c, unitKey("half"), "data", 3, 0)) // a later record replaces

	pt, err := readProgress(ctx, c)
	require.NoError(t, err)
	assert.True(t, pt.resumed)
	assert.Equal(t, "fp1", pt.archive)
	assert.Equal(t, id, pt.dumpID, "the dump run recorded")
	_, ok := pt.unit(dumpKey)
	assert.False(t, ok, "the dump run's row is not a unit")
	s, ok := pt.unit(unitKey("done"))
	assert.True(t, ok && s.done, "unit done = %+v, %v; want done", s, ok)
	s, ok = pt.unit(unitKey("half"))
	assert.True(t, ok && !s.done && s.stmts == 3, "unit half = %+v, %v; want 3 statements done, not done", s, ok)
	_, ok = pt.unit(unitKey("never"))
	assert.False(t, ok)
	assert.Equal(t, map[int64]bool{4: true, 6: true}, pt.committed(unitKey("half")))
	assert.True(t, pt.globalDone(1234))
	assert.False(t, pt.globalDone(99))

	require.NoError(t, dropProgress(ctx, c))
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", ProgressTable).Scan(&n))
	assert.Zero(t, n, "the progress table is still there after dropProgress")

	var fresh *progressTable // a new import's lookups find nothing
	_, ok = fresh.unit(unitKey("done"))
	assert.False(t, ok || fresh.globalDone(1234) || fresh.committed(unitKey("half")) != nil)
}
