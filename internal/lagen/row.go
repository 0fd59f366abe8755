package lagen

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// rows appends rows in one of two formats and counts the data bytes (the
// raw value lengths, before escaping) it carried: the VALUES tuples of a
// multi-row INSERT, or (tsv) the lines of LOAD DATA's default format (tab
// between fields, backslash escapes, \N for NULL).
type rows struct {
	tsv   bool
	buf   []byte
	n     int   // rows in buf
	data  int64 // data bytes in buf
	first bool  // no value written yet in the current row
}

func (w *rows) begin() {
	switch {
	case w.tsv:
	case w.n > 0:
		w.buf = append(w.buf, ",("...)
	default:
		w.buf = append(w.buf, '(')
	}
	w.first = true
}

func (w *rows) end() {
	if w.tsv {
		w.buf = append(w.buf, '\n')
	} else {
		w.buf = append(w.buf, ')')
	}
	w.n++
}

func (w *rows) sep() {
	if !w.first {
		if w.tsv {
			w.buf = append(w.buf, '\t')
		} else {
			w.buf = append(w.buf, ',')
		}
	}
	w.first = false
}

func (w *rows) null() {
	w.sep()
	if w.tsv {
		w.buf = append(w.buf, `\N`...)
	} else {
		w.buf = append(w.buf, "NULL"...)
	}
}

func (w *rows) str(s string) {
	w.sep()
	if w.tsv {
		w.buf = appendEscaped(w.buf, s)
	} else {
		w.buf = ident.AppendString(w.buf, s)
	}
	w.data += int64(len(s))
}

// strN writes s, or NULL when null is true.
func (w *rows) strN(s string, null bool) {
	if null {
		w.null()
		return
	}
	w.str(s)
}

func (w *rows) bytes(b []byte) {
	if b == nil {
		w.null()
		return
	}
	w.sep()
	if w.tsv {
		w.buf = appendEscaped(w.buf, b)
	} else {
		w.buf = append(w.buf, "_binary"...)
		w.buf = ident.AppendString(w.buf, b)
	}
	w.data += int64(len(b))
}

func (w *rows) int(v int64) {
	w.sep()
	w.buf = strconv.AppendInt(w.buf, v, 10)
	w.data += 4
}

func (w *rows) uint(v uint64) {
	w.sep()
	w.buf = strconv.AppendUint(w.buf, v, 10)
	w.data += 4
}

func (w *rows) float32(v float32) {
	w.sep()
	w.buf = strconv.AppendFloat(w.buf, float64(v), 'g', -1, 32)
	w.data += 4
}

// decimal writes units/10^scale as an exact DECIMAL literal.
func (w *rows) decimal(units int64, scale int) {
	w.sep()
	if units < 0 {
		w.buf = append(w.buf, '-')
		units = -units
	}
	p := int64(math.Pow10(scale))
	w.buf = strconv.AppendInt(w.buf, units/p, 10)
	if scale > 0 {
		w.buf = append(w.buf, '.')
		frac := strconv.FormatInt(units%p, 10)
		for i := len(frac); i < scale; i++ {
			w.buf = append(w.buf, '0')
		}
		w.buf = append(w.buf, frac...)
	}
	w.data += 8
}

// datetime writes a DATETIME (or TIMESTAMP) literal for a Unix time; 0 is
// the zero date '0000-00-00 00:00:00' that LiveAgent writes for "never".
func (w *rows) datetime(unix int64) {
	w.sep()
	w.data += 8
	if !w.tsv {
		w.buf = append(w.buf, '\'')
	}
	if unix == 0 {
		w.buf = append(w.buf, "0000-00-00 00:00:00"...)
	} else {
		w.buf = time.Unix(unix, 0).UTC().AppendFormat(w.buf, time.DateTime)
	}
	if !w.tsv {
		w.buf = append(w.buf, '\'')
	}
}

// datetimeN writes a datetime, or NULL when null is true.
func (w *rows) datetimeN(unix int64, null bool) {
	if null {
		w.null()
		return
	}
	w.datetime(unix)
}

// appendEscaped appends s as one field of LOAD DATA's default format.
func appendEscaped[T string | []byte](buf []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case 0:
			esc = '0'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case '\t':
			esc = 't'
		case '\\':
			esc = '\\'
		case 0x1a:
			esc = 'Z'
		default:
			continue
		}
		buf = append(buf, s[start:i]...)
		buf = append(buf, '\\', esc)
		start = i + 1
	}
	return append(buf, s[start:]...)
}

// ids turns a row index into the 8 lower-case hex digits LiveAgent uses as
// keys. Each namespace is a keyed bijection of the 32-bit index space, so ids
// look random yet never collide within a namespace.
type ids struct{ key uint32 }

func newIDs(seed uint64, namespace string) ids {
	return ids{key: uint32(mix64(seed ^ hashString(namespace)))}
}

func (n ids) id(i int64) string {
	x := uint32(i) + n.key
	// lowbias32 (Chris Wellons): every step is invertible.
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	const hexdigits = "0123456789abcdef"
	var b [8]byte
	for k := 7; k >= 0; k-- {
		b[k] = hexdigits[x&15]
		x >>= 4
	}
	return string(b[:])
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is splitmix64's finaliser.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// stream is a reusable PCG source: reset positions it on the sequence of one
// (stream, unit) pair, so every unit's values depend only on the seed, the
// stream's name and the unit's index, never on who generates it or when.
type stream struct {
	key uint64
	pcg rand.PCG
	r   *rand.Rand
}

func newStream(seed uint64, name string) *stream {
	s := &stream{key: mix64(seed ^ hashString(name))}
	s.r = rand.New(&s.pcg)
	return s
}

func (s *stream) at(unit int64) *rand.Rand {
	s.pcg.Seed(s.key, mix64(uint64(unit)^s.key))
	return s.r
}
