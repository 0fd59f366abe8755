package transfer

import (
	"context"
	"testing"

	"github.com/qualityunit/lamigrate/internal/sftptest"
)

// dialTest connects to srv with cfg's defaults filled in for a test.
func dialTest(t testing.TB, srv *sftptest.Server, cfg SFTPConfig, sec Secrets) *SFTP {
	t.Helper()
	b, err := DialSFTP(context.Background(), cfg, sec)
	if err != nil {
		t.Fatalf("DialSFTP(%s) = %v", srv.Addr(), err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
