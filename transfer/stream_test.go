package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// TestReadAhead: what comes out is what went in, the hash covers exactly
// that, read errors pass through, and Close stops it at any point.
func TestReadAhead(t *testing.T) {
	data := testData(40, 5*readAheadBlock+777)
	cases := []struct {
		name string
		r    io.Reader
		want []byte
		err  error
	}{
		{"whole", bytes.NewReader(data), data, nil},
		{"empty", bytes.NewReader(nil), nil, nil},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(data[:3000])), data[:3000], nil},
		{"read error", io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(errors.New("disk gone"))), data[:100], errors.New("disk gone")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := sha256.New()
			var last int64
			ra := newReadAhead(tc.r, h, func(n int64) { last = n })
			got, err := io.ReadAll(iotest.HalfReader(ra))
			ra.Close()
			if (err == nil) != (tc.err == nil) || (err != nil && err.Error() != tc.err.Error()) {
				t.Fatalf("readAhead(%s) error = %v; want %v", tc.name, err, tc.err)
			}
			if !bytes.Equal(got, tc.want) || last != int64(len(tc.want)) {
				t.Fatalf("readAhead(%s) = %d bytes (reported %d); want %d", tc.name, len(got), last, len(tc.want))
			}
			if tc.err == nil {
				if s := hex.EncodeToString(h.Sum(nil)); s != sha(tc.want) {
					t.Errorf("readAhead(%s) hash = %s; want %s", tc.name, s, sha(tc.want))
				}
			}
		})
	}
	t.Run("close early", func(t *testing.T) {
		ra := newReadAhead(bytes.NewReader(data), sha256.New(), nil)
		_, err := io.ReadFull(ra, make([]byte, 10))
		require.NoError(t, err, "reading the first 10 bytes")
		ra.Close() // must not hang with the reader and hasher mid-way
	})
}

// TestStreamWriters writes a file in pieces through every backend's
// stream and checks the hash the destination computed on the way, also
// when continuing a partial file.
func TestStreamWriters(t *testing.T) {
	data := testData(41, 3<<20+4321)
	for _, bk := range allBackends(t) {
		for _, off := range []int64{0, 1<<20 + 99} {
			t.Run(bk.name, func(t *testing.T) {
				b, remote := bk.open(t)
				if off > 0 {
					mustWrite(t, filepath.Join(remote, "part"), append(bytes.Clone(data[:off]), "junk past the prefix"...))
				}
				sw := b.(streamWriter)
				sent, sum, method, err := sendStreamed(context.Background(), sw, "part", off, bytes.NewReader(data[off:]))
				if err != nil {
					t.Fatalf("sendStreamed(off %d) = %v", off, err)
				}
				if sent != int64(len(data))-off || !bytes.Equal(mustRead(t, filepath.Join(remote, "part")), data) {
					t.Fatalf("sendStreamed(off %d) sent %d; the file differs", off, sent)
				}
				want := HashMethod("")
				if bk.method != HashReadBack { // the in-process server runs no commands
					want = bk.method
				}
				if method != want || (want != "" && sum != sha(data)) {
					t.Errorf("sendStreamed(off %d) hash = %q by %q; want %s by %q", off, sum, method, sha(data), want)
				}
			})
		}
	}
}

// TestFollowScript runs the follower with a local shell over a file (whose
// name needs quoting) that grows while it runs, and without python3.
func TestFollowScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	require.NoError(t, err, "finding sh")
	data := testData(42, 3<<20+5000)
	p := filepath.Join(t.TempDir(), "it's a $(dump) `x`.sql")
	mustWrite(t, p, data[:1<<20])
	cmd := exec.Command(sh, "-c", "sh -c "+shellQuote(followScript(p)))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err, "the follower's stdin")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start(), "starting the follower")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err, "opening %s to append", p)
	for off := 1 << 20; off < len(data); off += 100000 {
		_, err := f.Write(data[off:min(off+100000, len(data))])
		require.NoError(t, err, "appending to %s", p)
	}
	f.Close()
	io.WriteString(stdin, "end\n")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("follower failed: %v (%s)", err, stderr.String())
	}
	if got := strings.Fields(stdout.String()); len(got) == 0 || got[0] != sha(data) || !strings.Contains(stderr.String(), followMarker) {
		t.Errorf("follower printed %q, %q; want %s and %s", stdout.String(), stderr.String(), sha(data), followMarker)
	}

	// Without python3 it says so by its exit status and prints no marker.
	cmd = exec.Command(sh, "-c", followScript(p))
	cmd.Env = []string{"PATH=" + t.TempDir()}
	cmd.Stdin = strings.NewReader("end\n")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 97 || strings.Contains(string(out), followMarker) {
		t.Errorf("follower without python3: %v, %q; want exit status 97 and no marker", err, out)
	}
}

// corrupting hides a backend's streamWriter (plain: Write) or keeps it,
// and flips one byte of what is written, as a bad disk or link would.
type corrupting struct {
	Backend
	at     int64 // offset in the file of the byte to flip
	stream bool
}

func (c *corrupting) Write(ctx context.Context, name string, off int64, r io.Reader) (int64, error) {
	return c.Backend.Write(ctx, name, off, &flipper{r: r, pos: off, at: c.at})
}

func (c *corrupting) openStream(ctx context.Context, name string, off int64) (stream, error) {
	s, err := c.Backend.(streamWriter).openStream(ctx, name, off)
	if err != nil {
		return nil, err
	}
	return &corruptStream{stream: s, pos: off, at: c.at}, nil
}

type corruptStream struct {
	stream
	pos, at int64
}

func (c *corruptStream) write(ctx context.Context, r io.Reader) (int64, error) {
	f := &flipper{r: r, pos: c.pos, at: c.at}
	n, err := c.stream.write(ctx, f)
	c.pos = f.pos
	return n, err
}

type flipper struct {
	r       io.Reader
	pos, at int64
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.pos && f.at < f.pos+int64(n) {
		p[f.at-f.pos] ^= 0x40
	}
	f.pos += int64(n)
	return n, err
}

// plainBackend is a Backend without streamWriter.
type plainBackend struct{ Backend }

// TestCorruptedChunkFailsPush: a byte changed on the way, in the first or
// a middle piece, fails the push with ErrVerify on every backend, with and
// without streaming, and nothing reaches the final name.
func TestCorruptedChunkFailsPush(t *testing.T) {
	data := testData(43, 4<<20+1234)
	opts := fastRetry
	for _, bk := range allBackends(t) {
		for _, tc := range []struct {
			name   string
			at     int64
			stream bool
		}{
			{"first piece streamed", 5, true},
			{"middle piece streamed", 2<<20 + 17, true},
			{"last byte plain", int64(len(data)) - 1, false},
		} {
			t.Run(bk.name+"/"+tc.name, func(t *testing.T) {
				b, remote := bk.open(t)
				var dst Backend = &plainBackend{&corrupting{Backend: b, at: tc.at}}
				if tc.stream {
					dst = &corrupting{Backend: b, at: tc.at}
				}
				file := filepath.Join(t.TempDir(), "dump.sql.gz")
				mustWrite(t, file, data)
				_, err := Push(context.Background(), dst, file, opts, nil)
				var me *MismatchError
				if !errors.Is(err, ErrVerify) || !errors.As(err, &me) || me.What != "sha256" {
					t.Fatalf("Push with byte %d corrupted = %v; want ErrVerify on sha256", tc.at, err)
				}
				if exists(filepath.Join(remote, "dump.sql.gz")) {
					t.Error("a corrupted file reached its final name")
				}
			})
		}
	}
}
