package chunk

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/rowhash"
)

// Types returns the DATA_TYPE of each key column, looked up in cols (a
// table's columns, rowhash.Columns).
func (k *Key) Types(cols []rowhash.Column) ([]string, error) {
	out := make([]string, len(k.Columns))
	for i, name := range k.Columns {
		for _, c := range cols {
			if strings.EqualFold(c.Name, name) {
				out[i] = c.DataType
				break
			}
		}
		if out[i] == "" {
			return nil, fmt.Errorf("chunk: key column %s is not a column of the table", name)
		}
	}
	return out, nil
}

// AppendLiteral appends a key value read over the text protocol as a SQL
// literal of a column of type dataType: numbers as printed, binary and
// spatial values as 0x hex (an empty one as an empty string), everything else as a
// quoted string.
func AppendLiteral(dst []byte, dataType string, v []byte) []byte {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint",
		"decimal", "numeric", "float", "double", "real", "year":
		return append(dst, v...)
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
		"multipolygon", "geometrycollection", "geomcollection":
		if len(v) == 0 {
			return append(dst, "''"...)
		}
		dst = append(dst, "0x"...)
		return hex.AppendEncode(dst, v)
	}
	return ident.AppendString(dst, v)
}

// textual reports whether values of dataType compare by a collation (so
// two different byte strings may be the same key).
func textual(dataType string) bool {
	switch dataType {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return true
	}
	return false
}

// AppendKeyInExact is AppendKeyIn followed, when a key column is textual
// (a collation compares it), by the condition that the rows' keys are
// byte for byte the given ones: " AND (CAST(CONVERT(`k` USING utf8mb4) AS
// BINARY), …) IN ((_binary '…', …), …)". The first condition finds the
// rows through the key's index; the second keeps a row whose key only
// collates equal (a changed letter case or trailing space) out of a
// DELETE meant for the old spelling.
func (k *Key) AppendKeyInExact(dst []byte, types []string, keys [][]byte) ([]byte, error) {
	dst, err := k.AppendKeyIn(dst, types, keys)
	if err != nil {
		return nil, err
	}
	any := false
	for _, t := range types {
		any = any || textual(t)
	}
	if !any {
		return dst, nil
	}
	dst = append(dst, " AND ("...)
	for i, c := range k.Columns {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		if textual(types[i]) {
			dst = append(dst, "CAST(CONVERT("+ident.Quote(c)+" USING utf8mb4) AS BINARY)"...)
		} else {
			dst = append(dst, ident.Quote(c)...)
		}
	}
	dst = append(dst, ") IN ("...)
	for i, key := range keys {
		vals, err := DecodeKey(key)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '(')
		for j, v := range vals {
			if j > 0 {
				dst = append(dst, ',')
			}
			if textual(types[j]) {
				dst = append(dst, "_binary "...)
				dst = ident.AppendString(dst, v)
			} else {
				dst = AppendLiteral(dst, types[j], v)
			}
		}
		dst = append(dst, ')')
	}
	return append(dst, ')'), nil
}

// AppendKeyIn appends the condition that selects the rows of the given
// encoded keys (AppendKey): "`k` IN (…)" for a one-column key,
// "(`a`, `b`) IN ((…), (…))" for more. types are Types' result.
func (k *Key) AppendKeyIn(dst []byte, types []string, keys [][]byte) ([]byte, error) {
	multi := len(k.Columns) > 1
	if multi {
		dst = append(dst, '(')
	}
	for i, c := range k.Columns {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, ident.Quote(c)...)
	}
	if multi {
		dst = append(dst, ')')
	}
	dst = append(dst, " IN ("...)
	for i, key := range keys {
		vals, err := DecodeKey(key)
		if err != nil {
			return nil, err
		}
		if len(vals) != len(k.Columns) {
			return nil, fmt.Errorf("chunk: a key of %d values for %d key columns", len(vals), len(k.Columns))
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		if multi {
			dst = append(dst, '(')
		}
		for j, v := range vals {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = AppendLiteral(dst, types[j], v)
		}
		if multi {
			dst = append(dst, ')')
		}
	}
	return append(dst, ')'), nil
}
