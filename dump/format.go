package dump

import (
	"database/sql"
	"encoding/hex"
	"io"

	"github.com/qualityunit/lamigrate/internal/ident"
)

// kind says how a column's text-protocol value is written as a literal.
type kind uint8

const (
	kindString kind = iota // '...' with escapes
	kindNumber             // as the server printed it
	kindBinary             // 0x... (HexBlob) or _binary '...'
)

// kindOf maps information_schema's DATA_TYPE to a literal kind.
func kindOf(dataType string) kind {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint",
		"decimal", "numeric", "float", "double", "real", "year":
		return kindNumber
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
		"multipolygon", "geometrycollection", "geomcollection":
		return kindBinary
	}
	return kindString
}

// appendBinary appends a binary value: 0x... or _binary '...'. An empty
// value is always an empty string literal (0x alone is not a literal).
func appendBinary(dst, v []byte, hexBlob bool) []byte {
	if len(v) == 0 {
		return append(dst, "''"...)
	}
	if !hexBlob {
		dst = append(dst, "_binary '"...)
		dst = ident.AppendEscaped(dst, v)
		return append(dst, '\'')
	}
	dst = append(dst, '0', 'x')
	n := len(dst)
	dst = grow(dst, 2*len(v))
	hex.Encode(dst[n:], v)
	return dst
}

// grow extends dst by n bytes (contents undefined), reallocating at most once.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) < n {
		nd := make([]byte, len(dst), 2*cap(dst)+n)
		copy(nd, dst)
		dst = nd
	}
	return dst[:len(dst)+n]
}

// appendValue appends one value as a literal; nil is NULL.
func appendValue(dst, v []byte, k kind, hexBlob bool) []byte {
	if v == nil {
		return append(dst, "NULL"...)
	}
	switch k {
	case kindNumber:
		return append(dst, v...)
	case kindBinary:
		return appendBinary(dst, v, hexBlob)
	}
	return ident.AppendString(dst, v)
}

// rowLen is the length of the row as batch.format renders it: "(v,...)".
func rowLen(vals []sql.RawBytes, kinds []kind, hexBlob bool) int {
	n := 1 + len(vals) // parentheses and commas
	for i, v := range vals {
		switch {
		case v == nil:
			n += len("NULL")
		case kinds[i] == kindNumber:
			n += len(v)
		case kinds[i] == kindBinary && len(v) == 0:
			n += len("''")
		case kinds[i] == kindBinary && hexBlob:
			n += 2 + 2*len(v)
		case kinds[i] == kindBinary:
			n += len("_binary ''") + ident.EscapedLen(v)
		default:
			n += 2 + ident.EscapedLen(v)
		}
	}
	return n
}

// writeRow writes the row as batch.format renders it, formatting large
// values rowChunk bytes at a time through buf (returned for reuse).
func writeRow(w io.Writer, vals []sql.RawBytes, kinds []kind, hexBlob bool, buf []byte) []byte {
	if cap(buf) < 2*rowChunk+64 {
		buf = make([]byte, 0, 2*rowChunk+64)
	}
	b := append(buf[:0], '(')
	flush := func() {
		if len(b) >= rowChunk {
			w.Write(b)
			b = b[:0]
		}
	}
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		k := kinds[i]
		if v == nil || k == kindNumber || len(v) == 0 || len(v) < rowChunk/2 {
			b = appendValue(b, v, k, hexBlob)
			flush()
			continue
		}
		switch {
		case k == kindBinary && hexBlob:
			b = append(b, '0', 'x')
		case k == kindBinary:
			b = append(b, "_binary '"...)
		default:
			b = append(b, '\'')
		}
		for len(v) > 0 {
			part := v[:min(len(v), rowChunk/2)]
			v = v[len(part):]
			if k == kindBinary && hexBlob {
				n := len(b)
				b = grow(b, 2*len(part))
				hex.Encode(b[n:], part)
			} else {
				b = ident.AppendEscaped(b, part)
			}
			flush()
		}
		if !(k == kindBinary && hexBlob) {
			b = append(b, '\'')
		}
	}
	b = append(b, ')')
	w.Write(b)
	return b[:0]
}
