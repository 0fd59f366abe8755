package chunk_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

// TestSplit: the ranges of every splittable key cover each row exactly
// once, with a fair share each; keys that cannot be split are not.
func TestSplit(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t,
		"CREATE TABLE hex (id CHAR(8) PRIMARY KEY, v TEXT) CHARSET utf8mb3 COLLATE utf8mb3_general_ci",
		"INSERT INTO hex SELECT LOWER(LPAD(HEX(seq * 2654435761 % 4294967291), 8, '0')), REPEAT('x', seq % 300) FROM seq_1_to_3000",
		"CREATE TABLE num (id BIGINT PRIMARY KEY, v INT)",
		"INSERT INTO num SELECT CAST(seq AS SIGNED) * 7 - 5000, seq FROM seq_1_to_2000",
		"CREATE TABLE comp (fileid CHAR(8), n INT, content BLOB, PRIMARY KEY (fileid, n))",
		"INSERT INTO comp SELECT LOWER(LPAD(HEX(seq % 97), 8, '0')), seq, REPEAT(CHAR(seq % 256), seq % 100) FROM seq_1_to_2000",
		"CREATE TABLE mixed (id VARCHAR(10) PRIMARY KEY) COLLATE utf8mb4_general_ci",
		"INSERT INTO mixed SELECT CONCAT(IF(seq % 2, 'a', 'B'), seq) FROM seq_1_to_500",
		"CREATE TABLE `odd ``name` (`k``ey` INT PRIMARY KEY)",
		"INSERT INTO `odd ``name` SELECT seq FROM seq_1_to_400",
		"CREATE TABLE nopk (v INT)",
		"INSERT INTO nopk SELECT seq FROM seq_1_to_100",
		"CREATE TABLE dbl (id DOUBLE PRIMARY KEY)",
		"INSERT INTO dbl SELECT seq / 3 FROM seq_1_to_100",
	)
	ctx := context.Background()
	for _, tt := range []struct {
		table, quoted string
		split         bool
	}{
		{"hex", "hex", true}, {"num", "num", true}, {"comp", "comp", true},
		// Mixed case under a case-insensitive collation: the boundaries
		// are real keys ordered by the server, so it splits exactly.
		{"mixed", "mixed", true},
		{"odd `name", "`odd ``name`", true},
		{"nopk", "nopk", false}, {"dbl", "dbl", false},
	} {
		t.Run(tt.table, func(t *testing.T) {
			r, err := chunk.Split(ctx, db.DB, db.Name, tt.table, 4)
			require.NoError(t, err)
			require.Equal(t, tt.split, r.Len() > 1, "Split(%s) = %+v", tt.table, r)
			var total, sum int64
			require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+tt.quoted).Scan(&total))
			for i := range r.Len() {
				w := r.Where(i)
				if !tt.split {
					assert.Empty(t, w)
					continue
				}
				var n int64
				require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+tt.quoted+" WHERE "+w).Scan(&n), "range %q", w)
				assert.True(t, n > 0 && n <= total*3/4, "range %q holds %d of %d rows; want a fair share", w, n, total)
				sum += n
			}
			if tt.split {
				assert.Equal(t, total, sum, "the ranges hold every row exactly once")
			}
		})
	}
	r, err := chunk.Split(ctx, db.DB, db.Name, "num", 1)
	require.NoError(t, err)
	assert.Nil(t, r, "Split(parts 1) splits nothing")
}
