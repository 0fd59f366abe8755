package sqlvalue_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/sqlvalue"
)

var binary = sqlvalue.Value{Valid: true, Bytes: []byte{0x00, 0xff, 0x10, 0xAB}}

func TestJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		v    sqlvalue.Value
		json string
	}{
		{"NULL", sqlvalue.Value{}, `null`},
		{"empty", sqlvalue.Text(""), `""`},
		{"text", sqlvalue.Text("help.old.com"), `"help.old.com"`},
		{"text with quotes and newline", sqlvalue.Text("a\"b\n"), `"a\"b\n"`},
		{"not UTF-8", binary, `{"base64":"AP8Qqw=="}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			require.NoError(t, err, "encoding %v", tt.v)
			assert.Equal(t, tt.json, string(b), "JSON of %v", tt.v)
			var back sqlvalue.Value
			require.NoError(t, json.Unmarshal(b, &back), "decoding %s", b)
			assert.True(t, back.Equal(tt.v), "%s decodes to %v; want %v", b, back, tt.v)
		})
	}
}

// What isolate's state files and adjust's records and rules accepted
// before they shared this type still reads: isolate wrote and read null,
// strings and {"base64": ...}; adjust read those and numbers and booleans.
func TestUnmarshalAcceptsBothOldForms(t *testing.T) {
	tests := []struct {
		in   string
		want sqlvalue.Value
	}{
		{`null`, sqlvalue.Value{}},
		{` null `, sqlvalue.Value{}},
		{`"x"`, sqlvalue.Text("x")},
		{`{"base64": "AP8Qqw=="}`, binary},
		{"{\n  \"base64\": \"AP8Qqw==\"\n}", binary}, // as MarshalIndent writes it into a state file
		{`{"base64": ""}`, sqlvalue.Text("")},
		{`true`, sqlvalue.Text("1")},
		{`false`, sqlvalue.Text("0")},
		{`42`, sqlvalue.Text("42")},
		{`-1.50`, sqlvalue.Text("-1.50")},
		{`1e3`, sqlvalue.Text("1e3")},
	}
	for _, tt := range tests {
		var v sqlvalue.Value
		require.NoError(t, json.Unmarshal([]byte(tt.in), &v), "decoding %s", tt.in)
		assert.True(t, v.Equal(tt.want), "%s decodes to %v; want %v", tt.in, v, tt.want)
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"base64": "AP8", "x": 1}`, `an object value must be {"base64": "..."}`},
		{`{"hex": "00"}`, `an object value must be {"base64": "..."}`},
		{`{"base64": null}`, `an object value must be {"base64": "..."}`},
		{`{"base64": 5}`, `an object value must be {"base64": "..."}`},
		{`{"base64": "!!"}`, `base64 value: illegal base64 data at input byte 0`},
		{`[1]`, `a value must be a string, number, boolean, null or {"base64": "..."}, not [1]`},
	}
	for _, tt := range tests {
		var v sqlvalue.Value
		err := json.Unmarshal([]byte(tt.in), &v)
		require.Error(t, err, "decoding %s must fail", tt.in)
		assert.Equal(t, tt.want, err.Error(), "error for %s", tt.in)
	}
}

func TestStringAndArg(t *testing.T) {
	assert.Equal(t, "NULL", sqlvalue.Value{}.String(), "NULL for people")
	assert.Equal(t, `"it's \"x\""`, sqlvalue.Text(`it's "x"`).String(), "text for people: quoted")
	assert.Equal(t, "0x00ff10ab", binary.String(), "bytes for people: 0x and lowercase hex")

	assert.Nil(t, sqlvalue.Value{}.Arg(), "NULL as a parameter")
	assert.Equal(t, "x", sqlvalue.Text("x").Arg(), "text as a parameter: a string")
	assert.Equal(t, []byte{0x00, 0xff, 0x10, 0xAB}, binary.Arg(), "bytes as a parameter: []byte, sent as binary")
}

func TestEqualAndRaw(t *testing.T) {
	assert.True(t, sqlvalue.Value{}.Equal(sqlvalue.Raw(nil)), "a nil driver value is NULL")
	assert.False(t, sqlvalue.Value{}.Equal(sqlvalue.Text("")), "NULL is not the empty string")
	assert.True(t, sqlvalue.Text("").Equal(sqlvalue.Raw([]byte{})), "an empty driver value is the empty string")

	buf := []byte("abc")
	v := sqlvalue.Raw(buf)
	buf[0] = 'X'
	assert.Equal(t, "abc", string(v.Bytes), "Raw copies the driver's buffer")
}
