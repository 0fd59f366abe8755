package strictjson

import (
	"errors"
	"testing"
)

func TestUnmarshal(t *testing.T) {
	type T struct {
		Name string `json:"name"`
	}
	tests := []struct {
		in      string
		wantErr bool
	}{
		{`{"name":"x"}`, false},
		{"  {\"name\":\"x\"}\n", false},
		{`{"nmae":"x"}`, true},
		{`{"name":"x"} {}`, true},
		{`{"name":"x"} junk`, true},
		{`{"name":`, true},
		{``, true},
	}
	for _, tt := range tests {
		var v T
		err := Unmarshal([]byte(tt.in), &v, "test")
		if (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%q) = %v; want error %v", tt.in, err, tt.wantErr)
		}
	}
	var v T
	if err := Unmarshal([]byte(`{} 1`), &v, "test"); !errors.Is(err, ErrTrailingData) {
		t.Errorf("Unmarshal(trailing) = %v; want ErrTrailingData", err)
	}
}
