package rowhash

import "testing"

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
