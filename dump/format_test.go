package dump

import (
	"bufio"
	"bytes"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendValue(t *testing.T) {
	tests := []struct {
		in      []byte
		k       kind
		hexBlob bool
		want    string
	}{
		{nil, kindString, false, "NULL"},
		{[]byte{}, kindString, false, "''"},
		{[]byte{}, kindBinary, false, "''"},
		{[]byte{}, kindBinary, true, "''"},
		{[]byte("-12.50"), kindNumber, false, "-12.50"},
		{[]byte("a'b\\c\x00d\ne\rf\x1ag\"h"), kindString, false, `'a\'b\\c\0d\ne\rf\Zg"h'`},
		{[]byte{0, 0x27, 0xff}, kindBinary, true, "0x0027ff"},
		{[]byte{0, 0x27, 0xff}, kindBinary, false, `_binary '\0\'` + "\xff'"},
		{[]byte("😀"), kindString, false, "'😀'"},
	}
	for _, tt := range tests {
		if got := string(appendValue(nil, tt.in, tt.k, tt.hexBlob)); got != tt.want {
			t.Errorf("appendValue(%q, %d, %v) = %s; want %s", tt.in, tt.k, tt.hexBlob, got, tt.want)
		}
	}
}

// TestRowMatchesBatch writes rows one at a time (the big-row path) and as
// batches: the statements must be the same bytes, whatever the values'
// sizes and where their escapes fall relative to the formatting pieces.
func TestRowMatchesBatch(t *testing.T) {
	big := make([]byte, 3*rowChunk+7)
	for i := range big {
		big[i] = "ab'\\\x00\n\r\x1ac"[i%9]
	}
	kinds := []kind{kindNumber, kindString, kindBinary, kindBinary, kindString}
	rows := [][]sql.RawBytes{
		{[]byte("1"), []byte("small"), []byte{0, 1}, nil, []byte{}},
		{[]byte("2"), big, big[1:], big[:rowChunk/2], big[5:]},
		{[]byte("3"), big[:rowChunk/2-1], []byte{}, big[2:], nil},
		{nil, nil, nil, nil, nil},
		{[]byte("-4.5"), big[3:], big, []byte("x"), big[:rowChunk]},
	}
	for _, hexBlob := range []bool{false, true} {
		for _, netBuf := range []int{4096, 2 * len(big), 1 << 30} {
			j := &tableJob{kinds: kinds, prefix: []byte("INSERT INTO `t` VALUES ")}
			var want, got bytes.Buffer
			wb, gb := bufio.NewWriter(&want), bufio.NewWriter(&got)
			wi := inserter{w: wb, netBuf: netBuf, prefix: j.prefix}
			gi := inserter{w: gb, netBuf: netBuf, prefix: j.prefix}
			var wn, gn int64
			var chunk []byte
			for _, r := range rows {
				b := &batch{job: j, ncols: len(kinds)}
				size := 0
				for _, v := range r {
					size += len(v)
				}
				b.add(r, size)
				b.format(hexBlob, nil)
				if l := rowLen(r, kinds, hexBlob); l != len(b.out) {
					t.Errorf("rowLen(row %s, hexBlob=%v) = %d; want %d", r[0], hexBlob, l, len(b.out))
				}
				n, err := wi.batch(b)
				wn += n
				if err != nil {
					require.NoError(t, err, "wi.batch")
				}
				n, err = gi.row(r, kinds, hexBlob, &chunk)
				gn += n
				if err != nil {
					require.NoError(t, err, "gi.row")
				}
			}
			n, _ := wi.finish()
			wn += n
			n, _ = gi.finish()
			gn += n
			wb.Flush()
			gb.Flush()
			if !bytes.Equal(got.Bytes(), want.Bytes()) || gn != wn || int(gn) != got.Len() {
				t.Errorf("inserter.row(hexBlob=%v, netBuf=%d) wrote %d bytes (counted %d); batch wrote %d (counted %d), equal=%v",
					hexBlob, netBuf, got.Len(), gn, want.Len(), wn, bytes.Equal(got.Bytes(), want.Bytes()))
			}
		}
	}
}
