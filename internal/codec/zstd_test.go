package codec

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// The zstd stream is frames of zstdFrame bytes compressed in parallel:
// every length around the frame boundaries, at every thread count, must
// come back whole through our reader and the zstd tool.
func TestZstdFrames(t *testing.T) {
	data := sample(3*zstdFrame + 5)
	for _, n := range []int{0, 1, zstdFrame - 1, zstdFrame, zstdFrame + 1, 2 * zstdFrame, len(data)} {
		for _, threads := range []int{1, 2, 4} {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, Zstd, WriterOptions{Threads: threads})
			require.NoError(t, err)
			// Odd write sizes, so writes straddle frame boundaries.
			for p := data[:n]; len(p) > 0; {
				k := min(len(p), 300_001)
				_, err := w.Write(p[:k])
				require.NoError(t, err)
				p = p[k:]
			}
			require.NoError(t, w.Close())

			r, info, err := NewReader(bytes.NewReader(buf.Bytes()), nil)
			require.NoError(t, err)
			require.Equal(t, Zstd, info.Kind)
			require.True(t, info.Checksummed, "n=%d threads=%d", n, threads)
			got, err := io.ReadAll(r)
			require.NoError(t, err)
			require.NoError(t, r.Close())
			require.True(t, bytes.Equal(data[:n], got), "n=%d threads=%d: read %d bytes back", n, threads, len(got))

			cmd := exec.Command("zstd", "-dc")
			cmd.Stdin = bytes.NewReader(buf.Bytes())
			out, err := cmd.Output()
			require.NoError(t, err, "zstd -dc, n=%d threads=%d", n, threads)
			require.True(t, bytes.Equal(data[:n], out), "zstd -dc, n=%d threads=%d: %d bytes", n, threads, len(out))
		}
	}
}

// A frame corrupted in the middle of the stream fails the read.
func TestZstdCorruptFrameFails(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Zstd, WriterOptions{})
	require.NoError(t, err)
	_, err = w.Write(sample(3 * zstdFrame))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	b := buf.Bytes()
	b[len(b)/2] ^= 0xff
	r, _, err := NewReader(bytes.NewReader(b), nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, r)
	require.Error(t, err)
}

type failWriter struct{ left int }

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		return 0, errors.New("disk full")
	}
	f.left -= len(p)
	return len(p), nil
}

// A failing destination is reported by Write or Close, never lost.
func TestZstdWriteError(t *testing.T) {
	w, err := NewWriter(&failWriter{left: 1000}, Zstd, WriterOptions{Threads: 2})
	require.NoError(t, err)
	data := sample(8 * zstdFrame)
	var werr error
	for p := data; len(p) > 0 && werr == nil; {
		k := min(len(p), 256<<10)
		_, werr = w.Write(p[:k])
		p = p[k:]
	}
	cerr := w.Close()
	require.ErrorContains(t, errors.Join(werr, cerr), "disk full")
	require.ErrorContains(t, cerr, "disk full")
}
