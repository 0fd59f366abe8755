package codec

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

func sample(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		if i%3 == 0 {
			b[i] = byte(r.IntN(256))
		} else {
			b[i] = "INSERT INTO `t` VALUES "[i%23]
		}
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	data := sample(3<<20 + 17)
	for _, k := range []Kind{Gzip, Zstd, LZ4, None} {
		for _, pass := range []string{"", "s3cret pass"} {
			t.Run(string(k)+"/enc="+pass, func(t *testing.T) {
				var buf bytes.Buffer
				w, err := NewWriter(&buf, k, WriterOptions{Passphrase: pass})
				if err != nil {
					require.NoError(t, err, "NewWriter")
				}
				_, err = w.Write(data)
				require.NoError(t, err, "w.Write")
				err = w.Close()
				require.NoError(t, err, "w.Close")
				r, info, err := NewReader(bytes.NewReader(buf.Bytes()), func() (string, error) { return pass, nil })
				if err != nil {
					require.NoError(t, err, "NewReader")
				}
				defer r.Close()
				if info.Kind != k || info.Encrypted != (pass != "") {
					t.Errorf("NewReader info = %+v; want kind %s encrypted %v", info, k, pass != "")
				}
				if k != None && !info.Checksummed {
					t.Errorf("info.Checksummed = false for %s", k)
				}
				got, err := io.ReadAll(r)
				if err != nil {
					require.NoError(t, err, "io.ReadAll")
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("round trip differs: got %d bytes, want %d", len(got), len(data))
				}
			})
		}
	}
}

func TestWrongPassphrase(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Gzip, WriterOptions{Passphrase: "right"})
	w.Write([]byte("hello"))
	w.Close()
	_, _, err := NewReader(bytes.NewReader(buf.Bytes()), func() (string, error) { return "wrong", nil })
	if !errors.Is(err, ErrPassphrase) {
		t.Errorf("NewReader(wrong passphrase) err = %v; want ErrPassphrase", err)
	}
	_, _, err = NewReader(bytes.NewReader(buf.Bytes()), nil)
	if !errors.Is(err, ErrNeedPassphrase) {
		t.Errorf("NewReader(nil passphrase) err = %v; want ErrNeedPassphrase", err)
	}
}

func TestTruncatedGzipFails(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Gzip, WriterOptions{})
	w.Write(sample(1 << 20))
	w.Close()
	cut := buf.Bytes()[:buf.Len()-5]
	r, _, err := NewReader(bytes.NewReader(cut), nil)
	if err != nil {
		require.NoError(t, err, "NewReader")
	}
	if _, err := io.Copy(io.Discard, r); err == nil {
		t.Error("reading a truncated gzip stream: err = nil; want an error")
	}
}

// The external tools must accept what we write.
func TestStockToolsAccept(t *testing.T) {
	data := sample(1 << 20)
	for _, tc := range []struct {
		k    Kind
		tool string
		args []string
	}{{Gzip, "gzip", []string{"-dc"}}, {Zstd, "zstd", []string{"-dc"}}, {LZ4, "lz4", []string{"-dc"}}} {
		t.Run(string(tc.k), func(t *testing.T) {
			if _, err := exec.LookPath(tc.tool); err != nil {
				t.Fatalf("%s not installed (scripts/test.sh installs it): %v", tc.tool, err)
			}
			var buf bytes.Buffer
			w, _ := NewWriter(&buf, tc.k, WriterOptions{})
			w.Write(data)
			err := w.Close()
			require.NoError(t, err, "w.Close")
			cmd := exec.Command(tc.tool, tc.args...)
			cmd.Stdin = &buf
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s %v: %v", tc.tool, tc.args, err)
			}
			if !bytes.Equal(out, data) {
				t.Errorf("%s output differs from input", tc.tool)
			}
		})
	}
}

func TestKindFromPath(t *testing.T) {
	tests := map[string]Kind{"d.sql.gz": Gzip, "d.sql.zst": Zstd, "d.sql.lz4": LZ4, "d.sql": None, "d.sql.gz.age": Gzip, "D.SQL.GZ": Gzip}
	for in, want := range tests {
		if got := KindFromPath(in); got != want {
			t.Errorf("KindFromPath(%q) = %s; want %s", in, got, want)
		}
	}
}

func TestKindOfName(t *testing.T) {
	cases := []struct {
		in   string
		want Kind
		ok   bool
	}{
		{"d.sql", None, true}, {"d.sql.gz", Gzip, true}, {"D.SQL.ZST", Zstd, true}, {"d.sql.lz4.age", LZ4, true},
		{"d.sql.age", None, true}, {"d.sql.bz2", None, false}, {"d.dump", None, false}, {"d.sql.xz.age", None, false}, {"d", None, false},
	}
	for _, tc := range cases {
		if got, ok := KindOfName(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("KindOfName(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
