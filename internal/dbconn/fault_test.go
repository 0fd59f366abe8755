package dbconn

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeServer listens on a loopback port and hands every connection to
// serve, standing in for what sits on the port instead of a well-behaved
// MySQL server.
func fakeServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return l.Addr().String()
}

// packet frames body as MySQL packet number seq.
func packet(seq byte, body []byte) []byte {
	h := binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
	h[3] = seq
	return append(h, body...)
}

// errPacket is the ERR packet a server sends instead of its greeting.
func errPacket(code uint16, msg string) []byte {
	body := binary.LittleEndian.AppendUint16([]byte{0xff}, code)
	return packet(0, append(body, msg...))
}

func TestOpenHandshakeFaults(t *testing.T) {
	const timeout = 150 * time.Millisecond
	tests := []struct {
		name   string
		serve  func(c net.Conn)
		fault  Fault
		want   string // the message after the address
		logged bool   // the driver logged the cause (to us, not stderr)
	}{
		{"closed after accepting", func(c net.Conn) { c.Close() }, FaultClosed,
			"closed the connection during the handshake (address from --dsn): check that a MySQL or MariaDB server listens there and accepts this client (its error log says why it refused)", true},
		{"reset", func(c net.Conn) {
			// Let the client's connect complete, then send a RST.
			time.Sleep(20 * time.Millisecond)
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}, FaultReset, "reset the connection during the handshake (address from --dsn): check that a MySQL or MariaDB server listens there", false},
		{"http server", func(c net.Conn) {
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
			c.Close()
		}, FaultNotMySQL, "does not speak the MySQL protocol (address from --dsn): check the port, MySQL and MariaDB listen on 3306 unless configured otherwise", true},
		{"ssh server, waiting for the client", func(c net.Conn) {
			c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			time.Sleep(3 * timeout)
			c.Close()
		}, FaultNotMySQL, "does not speak the MySQL protocol", true},
		{"short greeting", func(c net.Conn) {
			// Protocol 10, then nothing the driver expects: it panics.
			c.Write(packet(0, []byte{10, 'x', 0, 0}))
			time.Sleep(3 * timeout)
			c.Close()
		}, FaultNotMySQL, "does not speak the MySQL protocol", false},
		{"old protocol", func(c net.Conn) { c.Write(packet(0, []byte{9, 'x', 0})); c.Close() }, FaultNotMySQL, "does not speak the MySQL protocol", false},
		{"never answers", func(c net.Conn) { time.Sleep(3 * timeout); c.Close() }, FaultTimeout,
			"accepted the connection but sent no MySQL greeting within 300ms (address from --dsn): check that the port is the database server's and that the server is not hung", false},
		{"host not allowed", func(c net.Conn) {
			c.Write(errPacket(1130, "Host '192.0.2.7' is not allowed to connect to this MariaDB server"))
			c.Close()
		}, FaultRejected, "does not let this client connect (Host '192.0.2.7' is not allowed to connect to this MariaDB server, error 1130): create the user for the host the server sees, or connect from a host it allows", false},
		{"too many connections", func(c net.Conn) { c.Write(errPacket(1040, "Too many connections")); c.Close() }, FaultRejected,
			"refused the connection: too many connections (error 1040): wait for others to finish, or raise max_connections / max_user_connections", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeServer(t, tt.serve)
			r, err := Sources{DSN: "root@tcp(" + addr + ")/x?timeout=" + timeout.String()}.Resolve()
			require.NoError(t, err)
			start := time.Now()
			db, err := Open(context.Background(), r)
			require.Error(t, err)
			assert.Nil(t, db)
			assert.Less(t, time.Since(start), 2*time.Second, "Open gave up in time")

			var ce *ConnectError
			require.True(t, errors.As(err, &ce), "Open error %T %v; want a *ConnectError", err, err)
			assert.Equal(t, tt.fault, ce.Fault, "fault of %q", err)
			assert.Contains(t, err.Error(), " at "+addr+" ", "names the address")
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n")
			if tt.logged {
				assert.NotEmpty(t, r.log.since(0), "the driver's log went to the Resolved, not stderr")
			}
		})
	}
}

// TestResolveSetsDriverLogger: every configuration Resolve builds
// carries its own logger, so the driver never prints with its default one.
func TestResolveSetsDriverLogger(t *testing.T) {
	r, err := Sources{DSN: "u@tcp(h:1)/d"}.Resolve()
	require.NoError(t, err)
	assert.Same(t, r.log, r.Config.Logger)
	assert.NotSame(t, mysql.NewConfig().Logger, r.Config.Logger)
	r.Config.Logger.Print("packets.go:58 ", errors.New("unexpected EOF"))
	assert.Len(t, r.log.since(0), 1)
	for range driverLogKeep * 2 {
		r.Config.Logger.Print("x")
	}
	assert.Len(t, r.log.since(0), driverLogKeep, "the log keeps only the last lines")
	assert.Len(t, r.log.since(r.log.mark()-2), 2)
}

// fullBacklog returns a loopback address whose listener never accepts and
// whose accept queue is full: the kernel drops further SYNs, so a connect
// there times out as it would against a firewalled host.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for range 3 {
		c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond)
		if err != nil {
			return addr // queue full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("the accept queue of %s never filled", addr)
	return ""
}

func TestOpenConnectTimeout(t *testing.T) {
	addr := fullBacklog(t)
	r, err := Sources{DSN: "root@tcp(" + addr + ")/x?timeout=100ms"}.Resolve()
	require.NoError(t, err)
	_, err = Open(context.Background(), r)
	var ce *ConnectError
	require.True(t, errors.As(err, &ce), "Open error %T %v; want a *ConnectError", err, err)
	assert.Equal(t, FaultTimeout, ce.Fault, "fault of %q", err)
	assert.Equal(t, "no answer from "+addr+" within 100ms (address from --dsn): check the host, the port, and any firewall between", err.Error())
}
