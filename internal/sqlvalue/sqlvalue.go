package sqlvalue

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Value is a column value: NULL when Valid is false (the zero Value), else
// Bytes.
type Value struct {
	Valid bool
	Bytes []byte
}

// Text returns the non-NULL value s.
func Text(s string) Value { return Value{Valid: true, Bytes: []byte(s)} }

// Raw returns the value a driver returned: nil is NULL. The bytes are
// copied (a driver reuses its buffers).
func Raw(b []byte) Value {
	if b == nil {
		return Value{}
	}
	return Value{Valid: true, Bytes: bytes.Clone(b)}
}

// Equal reports whether v and o are the same bytes, or both NULL.
func (v Value) Equal(o Value) bool {
	return v.Valid == o.Valid && (!v.Valid || bytes.Equal(v.Bytes, o.Bytes))
}

// String renders the value for people: NULL, the text quoted, or 0x and
// lowercase hex for bytes that are not UTF-8.
func (v Value) String() string {
	switch {
	case !v.Valid:
		return "NULL"
	case utf8.Valid(v.Bytes):
		return strconv.Quote(string(v.Bytes))
	}
	return "0x" + hex.EncodeToString(v.Bytes)
}

// Arg is the value as a query parameter: nil, a string, or []byte for
// bytes that are not UTF-8.
func (v Value) Arg() any {
	switch {
	case !v.Valid:
		return nil
	case utf8.Valid(v.Bytes):
		return string(v.Bytes)
	}
	return v.Bytes
}

// MarshalJSON writes null, a string, or {"base64": "..."}.
func (v Value) MarshalJSON() ([]byte, error) {
	switch {
	case !v.Valid:
		return []byte("null"), nil
	case utf8.Valid(v.Bytes):
		return json.Marshal(string(v.Bytes))
	}
	return json.Marshal(map[string]string{"base64": base64.StdEncoding.EncodeToString(v.Bytes)})
}

// UnmarshalJSON reads what MarshalJSON writes, and numbers and booleans.
func (v *Value) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*v = Value{}
	switch {
	case len(b) == 0:
		return errors.New("empty value")
	case string(b) == "null":
		return nil
	case string(b) == "true":
		*v = Text("1")
	case string(b) == "false":
		*v = Text("0")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = Text(s)
	case b[0] == '{':
		const want = `an object value must be {"base64": "..."}`
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%s: %v", want, err)
		}
		raw, ok := m["base64"]
		var s string
		if !ok || len(m) != 1 || json.Unmarshal(raw, &s) != nil || string(raw) == "null" {
			return errors.New(want)
		}
		d, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("base64 value: %v", err)
		}
		*v = Value{Valid: true, Bytes: d}
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf(`a value must be a string, number, boolean, null or {"base64": "..."}, not %.40s`, b)
		}
		*v = Text(n.String())
	}
	return nil
}
