package transfer

import (
	"context"
	"errors"
	"hash"
	"io"
	"sync"
)

// streamWriter is a Backend that can store a file through one open handle,
// piece after piece, while it hashes on its own side what is already stored.
// A copy to a destination that is not on this machine's side (Push) uses it
// to check the destination's SHA-256 during the upload instead of after it
// (SFTP runs one hashing command on the server that follows the upload;
// Local reads the file back as it grows).
type streamWriter interface {
	// openStream opens name for writing at off, as Write does: the file and
	// missing folders are created, off == 0 drops old content, off > 0 cuts
	// the file to off bytes (it must hold at least that many).
	openStream(ctx context.Context, name string, off int64) (stream, error)
}

// stream is a file being written at its end by one goroutine.
type stream interface {
	// write appends r's bytes. As the stored prefix of the file grows it
	// lets the destination hash it; when write returns without error every
	// byte it read is stored (acknowledged by the server).
	write(ctx context.Context, r io.Reader) (int64, error)
	// finish flushes the file to stable storage, closes it and returns the
	// SHA-256 of the whole file as the destination computed it. An empty
	// method means the destination could not hash it (a server without a
	// shell): the caller must use Backend.Hash.
	finish(ctx context.Context) (sum string, method HashMethod, err error)
	// abort releases everything after a failure (finish not called).
	abort()
}

// sendStreamed sends r (the file from off on) into partial through sw, and
// returns how many bytes it read from r and the destination's SHA-256 of
// the whole partial file (method "" when the destination cannot hash).
func sendStreamed(ctx context.Context, sw streamWriter, partial string, off int64, r io.Reader) (sent int64, sum string, method HashMethod, err error) {
	s, err := sw.openStream(ctx, partial, off)
	if err != nil {
		return 0, "", "", err
	}
	sent, err = s.write(ctx, r)
	if err != nil {
		s.abort()
		return sent, "", "", err
	}
	sum, method, err = s.finish(ctx)
	return sent, sum, method, err
}

// readAhead reads r on its own goroutine, hashes what it read on another,
// and hands the hashed bytes out through Read. Reading the file and
// SHA-256 then overlap with whatever the caller does with the bytes
// (encrypting and sending them), instead of taking turns with it.
type readAhead struct {
	ready <-chan *block // read and hashed, in order
	free  chan *block
	done  chan struct{}
	wg    sync.WaitGroup

	cur  *block
	pos  int
	err  error
	read int64 // bytes handed out

	onRead func(read int64) // called after each Read that returned bytes
}

type block struct {
	buf []byte
	n   int
	err error // after buf[:n]: io.EOF or a read error
}

const (
	readAheadBlock  = 1 << 20
	readAheadBlocks = 8
)

// newReadAhead starts reading r into h. h must not be used until Read has
// returned io.EOF (it then holds everything) or Close has returned.
func newReadAhead(r io.Reader, h hash.Hash, onRead func(int64)) *readAhead {
	read := make(chan *block, readAheadBlocks)
	ready := make(chan *block, readAheadBlocks)
	ra := &readAhead{ready: ready, free: make(chan *block, readAheadBlocks), done: make(chan struct{}), onRead: onRead}
	for range readAheadBlocks {
		ra.free <- &block{buf: make([]byte, readAheadBlock)}
	}
	ra.wg.Add(2)
	go func() { // reader
		defer ra.wg.Done()
		defer close(read)
		for {
			var b *block
			select {
			case b = <-ra.free:
			case <-ra.done:
				return
			}
			b.n, b.err = io.ReadFull(r, b.buf)
			if errors.Is(b.err, io.ErrUnexpectedEOF) {
				b.err = io.EOF
			}
			select {
			case read <- b:
			case <-ra.done:
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	go func() { // hasher
		defer ra.wg.Done()
		defer close(ready)
		for b := range read {
			h.Write(b.buf[:b.n])
			select {
			case ready <- b:
			case <-ra.done:
				return
			}
		}
	}()
	return ra
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for ra.cur == nil || ra.pos == ra.cur.n {
		if ra.cur != nil {
			if ra.cur.err != nil {
				ra.err = ra.cur.err
			}
			ra.free <- ra.cur
			ra.cur = nil
		}
		if ra.err != nil {
			return 0, ra.err
		}
		b, ok := <-ra.ready
		if !ok {
			ra.err = errors.New("transfer: read-ahead stopped")
			return 0, ra.err
		}
		ra.cur, ra.pos = b, 0
	}
	n := copy(p, ra.cur.buf[ra.pos:ra.cur.n])
	ra.pos += n
	ra.read += int64(n)
	if ra.onRead != nil {
		ra.onRead(ra.read)
	}
	return n, nil
}

// Close stops the goroutines and waits for them.
func (ra *readAhead) Close() error {
	select {
	case <-ra.done:
	default:
		close(ra.done)
	}
	ra.wg.Wait()
	return nil
}
