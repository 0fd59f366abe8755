package codec

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// benchSample is the input of the codec benchmarks: the file named by
// LAMIGRATE_CODEC_SAMPLE (a real dump, e.g. `lamigrate dump -o x.sql` of a
// lagen database; see bench/codec.sh), or 32 MiB of the synthetic sample.
func benchSample(b *testing.B) []byte {
	b.Helper()
	if p := os.Getenv("LAMIGRATE_CODEC_SAMPLE"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatalf("reading LAMIGRATE_CODEC_SAMPLE: %v", err)
		}
		return data
	}
	return sample(32 << 20)
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriter compresses the sample the way dump writes it (256 KiB
// writes, as the dump's bufio.Writer flushes) with each codec at its
// default and at neighbouring settings. Besides ns/op it reports the
// archive's bytes and the CPU time (all goroutines) per op: on the shared
// 2-core machine a busy neighbour takes CPU, so cpu-ns/op predicts the
// busy-machine time better than the wall time does.
func BenchmarkWriter(b *testing.B) {
	data := benchSample(b)
	cases := []struct {
		name string
		kind Kind
		opt  WriterOptions
	}{
		{"gzip/3", Gzip, WriterOptions{Level: 3}}, // dump.DefaultGzipLevel
		{"gzip/6", Gzip, WriterOptions{Level: 6}},
		{"gzip/9", Gzip, WriterOptions{Level: 9}},
		{"zstd/default", Zstd, WriterOptions{}},
		{"zstd/3", Zstd, WriterOptions{Level: 3}},
		{"zstd/default/threads=1", Zstd, WriterOptions{Threads: 1}},
		{"lz4/default", LZ4, WriterOptions{}},
		{"none", None, WriterOptions{}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var out countWriter
			cpu0 := cpuTime()
			for b.Loop() {
				out = countWriter{}
				w, err := NewWriter(&out, c.kind, c.opt)
				if err != nil {
					b.Fatal(err)
				}
				for p := data; len(p) > 0; {
					n := min(len(p), 256<<10)
					if _, err := w.Write(p[:n]); err != nil {
						b.Fatal(err)
					}
					p = p[n:]
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.n), "bytes")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkDumpLike models the dump: two formatting goroutines work on
// 256 KiB chunks (about 1 ns a byte) and one writer writes them in order
// into the codec, so a codec whose Write waits for its own goroutines
// stalls the whole pipeline. bench/codec.sh runs it on a quiet and on a
// busy machine (two CPU-bound processes beside it).
func BenchmarkDumpLike(b *testing.B) {
	data := benchSample(b)
	type wc interface {
		Write([]byte) (int, error)
		Close() error
	}
	variants := []struct {
		name string
		mk   func(w *countWriter) (wc, error)
	}{
		{"gzip3", // dump.DefaultGzipLevel
			func(w *countWriter) (wc, error) { return NewWriter(w, Gzip, WriterOptions{Level: 3}) }},
		{"zstd", func(w *countWriter) (wc, error) { return NewWriter(w, Zstd, WriterOptions{}) }},
		{"zstd3", func(w *countWriter) (wc, error) { return NewWriter(w, Zstd, WriterOptions{Level: 3}) }},
		// klauspost's stream encoder, as codec used it before: one
		// block at a time in lockstep with the writer.
		{"zstd3-stream", func(w *countWriter) (wc, error) {
			return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(2), zstd.WithEncoderCRC(true))
		}},
		// Its parallel sections (WithConcurrentBlocks).
		{"zstd3-sections", func(w *countWriter) (wc, error) {
			return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(1<<20), zstd.WithEncoderConcurrency(2), zstd.WithConcurrentBlocks(true), zstd.WithEncoderCRC(true))
		}},
	}
	const chunk = 256 << 10
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var out countWriter
			cpu0 := cpuTime()
			for b.Loop() {
				out = countWriter{}
				w, err := v.mk(&out)
				if err != nil {
					b.Fatal(err)
				}
				type job struct {
					p    []byte
					sink int
					done chan struct{}
				}
				work := make(chan *job, 2)
				order := make(chan *job, 16)
				for range 2 {
					go func() {
						for j := range work {
							s := 0
							for _, c := range j.p {
								s = s*31 + int(c)
							}
							j.sink = s
							close(j.done)
						}
					}()
				}
				go func() {
					for p := data; len(p) > 0; {
						n := min(len(p), chunk)
						j := &job{p: p[:n], done: make(chan struct{})}
						order <- j
						work <- j
						p = p[n:]
					}
					close(order)
					close(work)
				}()
				for j := range order {
					<-j.done
					if _, err := w.Write(j.p); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.n), "bytes")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
