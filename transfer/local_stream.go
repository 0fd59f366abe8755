package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
)

var _ streamWriter = (*Local)(nil)

// openStream implements streamWriter: a goroutine reads the file back
// through its own descriptor as it grows.
func (l *Local) openStream(ctx context.Context, name string, off int64) (stream, error) {
	f, err := l.create(name, off)
	if err != nil {
		return nil, err
	}
	p := f.Name()
	rf, err := os.Open(p)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("transfer: %w", err)
	}
	st := &localStream{f: f, p: p, off: off, rf: rf, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go st.follow()
	st.let(off)
	return st, nil
}

const stopFollowing = -2

// localStream is a local file being written, and the goroutine hashing it.
type localStream struct {
	f   *os.File
	p   string
	off int64 // where writing started

	rf   *os.File // read side, owned by follow
	mu   sync.Mutex
	upTo int64 // follow may hash this many bytes (-1: to the end, stopFollowing: stop)
	wake chan struct{}
	done chan struct{} // closed when follow returns
	sum  string
	err  error
}

// write copies r in pieces of localPiece bytes, letting the follower hash
// each piece once it is written.
func (st *localStream) write(ctx context.Context, r io.Reader) (int64, error) {
	buf := make([]byte, localPiece)
	var n int64
	for {
		k, rerr := io.ReadFull(ctxReader{ctx, r}, buf)
		if k > 0 {
			if _, err := st.f.Write(buf[:k]); err != nil {
				return n, fmt.Errorf("transfer: writing %s: %w", st.p, err)
			}
			n += int64(k)
			st.let(st.off + n)
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return n, nil
		case rerr != nil:
			return n, fmt.Errorf("transfer: writing %s: %w", st.p, rerr)
		}
	}
}

// localPiece is how much a localStream writes between two reports.
var localPiece = 1 << 20

func (st *localStream) let(n int64) {
	st.mu.Lock()
	st.upTo = n
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// follow hashes the file as far as it is let, until told to read to the end.
func (st *localStream) follow() {
	defer close(st.done)
	defer st.rf.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var at int64
	for range st.wake {
		st.mu.Lock()
		upTo := st.upTo
		st.mu.Unlock()
		if upTo == stopFollowing {
			return
		}
		if upTo < 0 {
			if _, err := io.CopyBuffer(h, st.rf, buf); err != nil {
				st.err = err
				return
			}
			st.sum = hex.EncodeToString(h.Sum(nil))
			return
		}
		if upTo > at {
			n, err := io.CopyBuffer(h, io.LimitReader(st.rf, upTo-at), buf)
			at += n
			if err != nil || at < upTo {
				st.err = fmt.Errorf("reading back: %v (at byte %d of %d)", err, at, upTo)
				return
			}
		}
	}
}

func (st *localStream) finish(ctx context.Context) (string, HashMethod, error) {
	st.let(-1)
	serr := st.f.Sync()
	cerr := st.f.Close()
	<-st.done
	if serr != nil {
		return "", "", fmt.Errorf("transfer: %w", serr)
	}
	if cerr != nil {
		return "", "", fmt.Errorf("transfer: %w", cerr)
	}
	if st.err != nil {
		return "", "", fmt.Errorf("transfer: hashing %s: %w", st.p, st.err)
	}
	return st.sum, HashLocal, nil
}

func (st *localStream) abort() {
	st.f.Close()
	st.let(stopFollowing)
	<-st.done
}
