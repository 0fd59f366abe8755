package rowhash

import (
	"database/sql"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/zeebo/xxh3"
)

func digestOf(rows ...[][]byte) string {
	var d Digest
	for _, r := range rows {
		d.Add(r)
	}
	return d.String()
}

func TestDigest(t *testing.T) {
	a := [][]byte{[]byte("1"), []byte("x")}
	b := [][]byte{[]byte("2"), nil}
	c := [][]byte{[]byte("2"), {}}
	if digestOf(a, b) != digestOf(b, a) {
		t.Error("digest depends on row order")
	}
	if digestOf(a, b) == digestOf(a, c) {
		t.Error("digest does not tell NULL from ''")
	}
	if digestOf(a) == digestOf(a, a) {
		t.Error("digest does not count duplicate rows")
	}
	if digestOf([][]byte{[]byte("ab"), []byte("c")}) == digestOf([][]byte{[]byte("a"), []byte("bc")}) {
		t.Error("digest does not separate values")
	}
	var d1, d2, all Digest
	d1.Add(a)
	d2.Add(b)
	all.Add(a)
	all.Add(b)
	d1.Merge(&d2)
	if d1.String() != all.String() || d1.Rows != 2 {
		t.Errorf("Merge = %s (%d rows); want %s (2 rows)", d1.String(), d1.Rows, all.String())
	}
}

func TestExpr(t *testing.T) {
	if got := Expr(Column{Name: "f`x", DataType: "float"}); got != "CAST(`f``x` AS DOUBLE)" {
		t.Errorf("Expr(float) = %s", got)
	}
	cols := []Column{{Name: "a", DataType: "int"}, {Name: "g", DataType: "int", Generated: true}, {Name: "h", DataType: "int", Invisible: true}}
	if got := SelectList(cols); got != "`a`, `h`" {
		t.Errorf("SelectList = %s; want `a`, `h`", got)
	}
}

// oneShot is the reference digest of one row: its whole encoding in one
// buffer, hashed at once.
func oneShot(row [][]byte) Digest {
	var buf []byte
	for _, v := range row {
		if v == nil {
			buf = append(buf, 0xff)
			continue
		}
		buf = append(buf, 0)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	sum := xxh3.Hash128(buf)
	return Digest{Rows: 1, a: sum.Hi, b: sum.Lo}
}

func TestDigestBigValues(t *testing.T) {
	big := make([]byte, 3*bigValue+7)
	for i := range big {
		big[i] = byte(i * 7)
	}
	row := [][]byte{[]byte("a"), big, nil, big[:bigValue], {}}
	want := oneShot(row)
	var d Digest
	d.Add(row)
	if d.String() != want.String() {
		t.Errorf("Digest.Add(row with big values) = %s; want %s", d.String(), want.String())
	}
	d.Add([][]byte{[]byte("a")})
	var d2 Digest
	d2.Add([][]byte{[]byte("a")})
	d2.Add(row)
	if d.String() != d2.String() {
		t.Errorf("digest after a big row = %s; want %s", d.String(), d2.String())
	}
}

// TestDigestStreamingSplit checks that the big-value path (hashing in place,
// in several writes) gives the digest of the same row hashed from one
// buffer, at and around the threshold and with big values anywhere in the
// row.
func TestDigestStreamingSplit(t *testing.T) {
	big := make([]byte, 2*bigValue+3)
	for i := range big {
		big[i] = byte(i*31 + i>>8)
	}
	for _, n := range []int{bigValue - 1, bigValue, bigValue + 1, 2*bigValue + 3} {
		for _, row := range [][][]byte{
			{big[:n]},
			{big[:n], nil},
			{[]byte("id"), big[:n], {}, []byte("tail")},
			{nil, big[:n], big[1 : n/2+1], big[:n], []byte("x")},
		} {
			want := oneShot(row)
			var d Digest
			d.Add(row)
			if d.String() != want.String() || d.Rows != 1 {
				t.Errorf("Add(row with a %d-byte value, %d values) = %s; want %s", n, len(row), d.String(), want.String())
			}
			// The same row scanned as sql.RawBytes.
			var r Digest
			raw := make([]sql.RawBytes, len(row))
			for i, v := range row {
				raw[i] = v
			}
			r.AddRaw(raw)
			if r.String() != want.String() {
				t.Errorf("AddRaw(row with a %d-byte value) = %s; want %s", n, r.String(), want.String())
			}
		}
	}
}

// TestDigestSensitive checks that small changes to one row change the
// digest: one byte of a value (small or big), NULL versus the empty
// string, and a byte moved between neighbouring values.
func TestDigestSensitive(t *testing.T) {
	big := []byte(strings.Repeat("0123456789abcdef", 3*bigValue/16))
	base := [][]byte{[]byte("42"), []byte("hello"), {}, big}
	seen := map[string]string{digestOf(base): "base"}
	variant := func(name string, f func(r [][]byte)) {
		r := make([][]byte, len(base))
		for i, v := range base {
			if v != nil {
				r[i] = append([]byte{}, v...)
			}
		}
		f(r)
		got := digestOf(r)
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: digest %s equals that of %s", name, got, prev)
		}
		seen[got] = name
	}
	variant("one byte of a small value", func(r [][]byte) { r[1][4] = 'O' })
	variant("one bit of a small value", func(r [][]byte) { r[0][1] ^= 1 })
	variant("NULL for ''", func(r [][]byte) { r[2] = nil })
	variant("one byte more", func(r [][]byte) { r[2] = []byte{0} })
	variant("first byte of the big value", func(r [][]byte) { r[3][0] = 'X' })
	variant("last byte of the big value", func(r [][]byte) { r[3][len(r[3])-1] = 'X' })
	variant("a byte moved between values", func(r [][]byte) { r[0], r[1] = []byte("4"), []byte("2hello") })
	variant("values swapped", func(r [][]byte) { r[0], r[1] = r[1], r[0] })

	if digestOf([][]byte{nil}) == digestOf([][]byte{{}}) {
		t.Error("a one-column row: NULL and '' have the same digest")
	}
	if digestOf([][]byte{[]byte("a")}) == digestOf([][]byte{[]byte("b")}) {
		t.Error("a one-byte change does not change the digest")
	}
	if got := digestOf(base); !strings.HasPrefix(got, Version+":") || len(got) != len(Version)+1+32 {
		t.Errorf("String() = %s; want %s: and 32 hex digits", got, Version)
	}
}

// BenchmarkDigest measures Add on typical rows (8 values, about 200 bytes)
// and on a row holding one 1 MiB value (the streaming path).
func BenchmarkDigest(b *testing.B) {
	small := make([][]byte, 8)
	n := 0
	for i := range small {
		small[i] = make([]byte, 25)
		for j := range small[i] {
			small[i][j] = byte('a' + (i+j)%26)
		}
		n += len(small[i])
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	for _, bc := range []struct {
		name  string
		row   [][]byte
		bytes int
	}{
		{"row200B", small, n},
		{"value1MiB", [][]byte{[]byte("42"), big}, 2 + len(big)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(bc.bytes))
			b.ReportAllocs()
			var d Digest
			for b.Loop() {
				d.Add(bc.row)
			}
		})
	}
}
