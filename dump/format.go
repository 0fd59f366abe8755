package dump

import "encoding/hex"

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

// escapes maps a byte to its escape letter, 0 for bytes written as is. The
// set is ident.String's: NUL, \n, \r, \, ' and Ctrl-Z.
var escapes = [256]byte{0: '0', '\n': 'n', '\r': 'r', '\\': '\\', '\'': '\'', 0x1a: 'Z'}

// appendEscaped appends v with the escapes a single-quoted literal needs,
// without the quotes. Runs of plain bytes are copied at once.
func appendEscaped(dst, v []byte) []byte {
	start := 0
	for i := 0; i < len(v); i++ {
		e := escapes[v[i]]
		if e == 0 {
			continue
		}
		dst = append(dst, v[start:i]...)
		dst = append(dst, '\\', e)
		start = i + 1
	}
	return append(dst, v[start:]...)
}

// appendString appends v as '...'.
func appendString(dst, v []byte) []byte {
	dst = append(dst, '\'')
	dst = appendEscaped(dst, v)
	return append(dst, '\'')
}

// appendBinary appends a binary value: 0x... or _binary '...'. An empty
// value is always an empty string literal (0x alone is not a literal).
func appendBinary(dst, v []byte, hexBlob bool) []byte {
	if len(v) == 0 {
		return append(dst, "''"...)
	}
	if !hexBlob {
		dst = append(dst, "_binary '"...)
		dst = appendEscaped(dst, v)
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
	return appendString(dst, v)
}
