package rowhash

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
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

func TestDigestBigValues(t *testing.T) {
	big := make([]byte, 3*bigValue+7)
	for i := range big {
		big[i] = byte(i * 7)
	}
	row := [][]byte{[]byte("a"), big, nil, big[:bigValue], {}}
	// The reference: one buffer of the whole row, hashed at once.
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
	sum := sha256.Sum256(buf)
	var want Digest
	want.a = binary.LittleEndian.Uint64(sum[0:8])
	want.b = binary.LittleEndian.Uint64(sum[8:16])
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
