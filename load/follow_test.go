package load

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFollow drives a Follower by hand: what the writer does at the end of
// what was read decides what Read returns.
func TestFollow(t *testing.T) {
	tests := []struct {
		name    string
		then    func(t *testing.T, path string) // after "abc" was read
		want    string
		wantErr error
	}{
		{"renamed: the rest of the same file", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("old archive"), 0o600)) // an earlier dump's FILE
			f, err := os.OpenFile(path+".partial", os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			f.WriteString("def")
			f.Close()
			require.NoError(t, os.Rename(path+".partial", path))
		}, "abcdef", nil},
		{"vanished", func(t *testing.T, path string) { require.NoError(t, os.Remove(path+".partial")) }, "abc", ErrVanished},
		{"replaced", func(t *testing.T, path string) {
			require.NoError(t, os.Remove(path+".partial"))
			require.NoError(t, os.WriteFile(path+".partial", []byte("abcdefgh"), 0o600))
		}, "abc", ErrReplaced},
		{"truncated by a rerun", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path+".partial", []byte("x"), 0o600))
		}, "abc", ErrReplaced},
		{"stalled", func(t *testing.T, path string) {}, "abc", ErrStalled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.sql")
			require.NoError(t, os.WriteFile(path+".partial", []byte("abc"), 0o600))
			fl, err := Follow(context.Background(), path, FollowOptions{Stall: 300 * time.Millisecond, Poll: 10 * time.Millisecond})
			require.NoError(t, err)
			defer fl.Close()
			buf := make([]byte, 3)
			_, err = io.ReadFull(fl, buf)
			require.NoError(t, err)
			tt.then(t, path)
			rest, err := io.ReadAll(fl)
			assert.Equal(t, tt.want, "abc"+string(rest))
			if tt.wantErr == nil {
				assert.NoError(t, err)
				assert.True(t, fl.Complete())
				return
			}
			var fe *FollowError
			require.True(t, errors.As(err, &fe), "%v", err)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, int64(3), fe.Offset)
			_, again := fl.Read(buf)
			assert.Equal(t, err, again, "the failure is sticky")
		})
	}
}

// TestFollowComplete: a FILE without FILE.partial is read as it is.
func TestFollowComplete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.sql")
	require.NoError(t, os.WriteFile(path, []byte("whole"), 0o600))
	fl, err := Follow(context.Background(), path, FollowOptions{Stall: time.Second})
	require.NoError(t, err)
	defer fl.Close()
	b, err := io.ReadAll(fl)
	require.NoError(t, err)
	assert.Equal(t, "whole", string(b))
	_, err = Follow(context.Background(), filepath.Join(t.TempDir(), "no", "d.sql"), FollowOptions{})
	assert.ErrorContains(t, err, "does not exist")
}

// TestFollowEndsWaits: a Read waiting at the end of what is there returns
// when Follow's context ends (with its error) or when the Follower is
// closed, not after the stall time.
func TestFollowEndsWaits(t *testing.T) {
	for _, how := range []string{"cancel", "close"} {
		t.Run(how, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.sql")
			require.NoError(t, os.WriteFile(path+".partial", []byte("abc"), 0o600))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			fl, err := Follow(ctx, path, FollowOptions{Stall: time.Hour, Poll: time.Hour})
			require.NoError(t, err)
			defer fl.Close()
			buf := make([]byte, 3)
			_, err = io.ReadFull(fl, buf)
			require.NoError(t, err, "reading what is there")
			done := make(chan error, 1)
			go func() {
				_, err := fl.Read(buf)
				done <- err
			}()
			if how == "cancel" {
				cancel()
			} else {
				require.NoError(t, fl.Close(), "closing the follower")
			}
			var got error
			select {
			case got = <-done:
			case <-time.After(time.Minute):
				require.FailNow(t, "Read still waits after "+how)
			}
			if how == "cancel" {
				require.ErrorIs(t, got, context.Canceled, "a cancelled context ends the wait with its error")
			} else {
				// Closed in the wait, or before it while reading the file.
				require.True(t, errors.Is(got, errFollowClosed) || errors.Is(got, os.ErrClosed), "Close ends the wait, not %v", got)
			}
			_, again := fl.Read(buf)
			assert.Equal(t, got, again, "the failure is sticky")
		})
	}
}
