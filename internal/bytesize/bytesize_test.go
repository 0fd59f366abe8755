package bytesize

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1GiB", 1 << 30, false},
		{"1G", 1 << 30, false},
		{"1gb", 1 << 30, false},
		{"512KiB", 512 << 10, false},
		{"512k", 512 << 10, false},
		{"2 MiB", 2 << 20, false},
		{"100", 100, false},
		{"100B", 100, false},
		{"3TiB", 3 << 40, false},
		{"", 0, true},
		{"GiB", 0, true},
		{"1.5GiB", 0, true},
		{"-1MiB", 0, true},
		{"1XB", 0, true},
		{"1PiB", 0, true},
		{"99999999999999GiB", 0, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{100, "100 B"},
		{1536, "1.5 KiB"},
		{1 << 30, "1.0 GiB"},
		{5 << 40, "5.0 TiB"},
		{3 << 50, "3.0 PiB"},
		{1<<63 - 1, "8.0 EiB"},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%d) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
