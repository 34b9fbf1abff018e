package proxy_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"spiral/internal/pgtest"
	"spiral/proxy"
)

// rawClient is a hand-driven protocol client for malformed input.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	fe   *pgproto3.Frontend
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawClient{t: t, conn: conn, fe: pgproto3.NewFrontend(conn, conn)}
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// login runs startup as postgres with trust auth up to ReadyForQuery.
func (c *rawClient) login(db string) {
	c.t.Helper()
	c.write(startupPacket(map[string]string{"user": "postgres", "database": db}))
	c.until(func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
}

// until reads messages until done says stop; an ErrorResponse fails.
func (c *rawClient) until(done func(pgproto3.BackendMessage) bool) {
	c.t.Helper()
	for {
		m, err := c.fe.Receive()
		if err != nil {
			c.t.Fatalf("receive: %v", err)
		}
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			c.t.Fatalf("unexpected error %s: %s", e.Code, e.Message)
		}
		if done(m) {
			return
		}
	}
}

// expectFatal reads until an ErrorResponse with code arrives, then requires
// the connection to close.
func (c *rawClient) expectFatal(code string) *pgproto3.ErrorResponse {
	c.t.Helper()
	for {
		m, err := c.fe.Receive()
		if err != nil {
			c.t.Fatalf("connection ended without ErrorResponse %s: %v", code, err)
		}
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			if e.Code != code {
				c.t.Fatalf("error %s %q, want %s", e.Code, e.Message, code)
			}
			if _, err := c.fe.Receive(); err == nil {
				c.t.Fatal("connection still open after the fatal error")
			}
			return e
		}
	}
}

func message(typ byte, body []byte) []byte {
	b := append([]byte{typ}, binary.BigEndian.AppendUint32(nil, uint32(len(body)+4))...)
	return append(b, body...)
}

func TestOversizedMessage(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.MaxMessageSize = 4096 })
	c := dialRaw(t, p.addr)
	c.login("postgres")
	q := "SELECT '" + strings.Repeat("x", 5000) + "'"
	c.write(message('Q', append([]byte(q), 0)))
	e := c.expectFatal("54000")
	if !strings.Contains(e.Message, "4096") {
		t.Fatalf("message does not name the limit: %q", e.Message)
	}
	// Only the length word is trusted before the limit check: a forged
	// 1 GiB length is refused without reading or allocating it.
	c2 := dialRaw(t, p.addr)
	c2.login("postgres")
	c2.write([]byte{'Q', 0x40, 0, 0, 0})
	c2.expectFatal("54000")
}

func TestMalformedMessages(t *testing.T) {
	p := startProxy(t, nil)
	cases := map[string][]byte{
		"unknown type":    message('z', nil),
		"negative length": {'Q', 0xff, 0xff, 0xff, 0xf0},
		"short length":    {'Q', 0, 0, 0, 2},
		"bad password":    message('p', []byte("x\x00")),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, p.addr)
			c.login("postgres")
			c.write(msg)
			c.expectFatal("08P01")
		})
	}
	t.Run("startup length", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		c.write([]byte{0, 0, 0, 3})
		c.expectFatal("08P01")
	})
	t.Run("protocol 2", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		c.write([]byte{0, 0, 0, 8, 0, 2, 0, 0})
		c.expectFatal("0A000")
	})
}

// TestMalformedDoesNotHurtOthers: a bad client ends only its own session.
func TestMalformedDoesNotHurtOthers(t *testing.T) {
	p := startProxy(t, nil)
	good := connect(t, p.dsn(t, pgtest.NewDB(t)))
	c := dialRaw(t, p.addr)
	c.login("postgres")
	c.write(message('z', nil))
	c.expectFatal("08P01")
	var one int
	if err := good.QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

// TestProtocolDowngrade: a client asking for 3.2 and a _pq_ option gets
// NegotiateProtocolVersion and a working 3.0 session.
func TestProtocolDowngrade(t *testing.T) {
	p := startProxy(t, nil)
	c := dialRaw(t, p.addr)
	body := binary.BigEndian.AppendUint32(nil, 3<<16|2)
	for _, kv := range [][2]string{{"user", "postgres"}, {"database", "postgres"}, {"_pq_.test_option", "on"}} {
		body = append(append(append(append(body, kv[0]...), 0), kv[1]...), 0)
	}
	body = append(body, 0)
	c.write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...))
	var neg *pgproto3.NegotiateProtocolVersion
	c.until(func(m pgproto3.BackendMessage) bool {
		if n, ok := m.(*pgproto3.NegotiateProtocolVersion); ok {
			neg = &pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: n.NewestMinorProtocol, UnrecognizedOptions: append([]string(nil), n.UnrecognizedOptions...)}
		}
		_, ok := m.(*pgproto3.ReadyForQuery)
		return ok
	})
	if neg == nil || neg.NewestMinorProtocol != 0 || len(neg.UnrecognizedOptions) != 1 || neg.UnrecognizedOptions[0] != "_pq_.test_option" {
		t.Fatalf("NegotiateProtocolVersion = %+v", neg)
	}
	c.write(message('Q', []byte("SELECT 1\x00")))
	c.until(func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
}

// fakeUpstream accepts one connection, reads its startup message, answers
// with script, and returns what the proxy sent.
func fakeUpstream(t *testing.T, script func(be *pgproto3.Backend, conn net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		be := pgproto3.NewBackend(conn, conn)
		if _, err := be.ReceiveStartupMessage(); err != nil {
			return
		}
		script(be, conn)
	}()
	return "postgres://x@" + l.Addr().String() + "/x?sslmode=disable"
}

func sendAll(conn net.Conn, msgs ...pgproto3.BackendMessage) {
	var b []byte
	for _, m := range msgs {
		b, _ = m.Encode(b)
	}
	_, _ = conn.Write(b)
}

// TestUpstreamLost: when the upstream connection breaks, the client gets
// SQLSTATE 08006 and is disconnected.
func TestUpstreamLost(t *testing.T) {
	dsn := fakeUpstream(t, func(be *pgproto3.Backend, conn net.Conn) {
		sendAll(conn, &pgproto3.AuthenticationOk{}, &pgproto3.BackendKeyData{ProcessID: 7, SecretKey: []byte{1, 2, 3, 4}},
			&pgproto3.ReadyForQuery{TxStatus: 'I'})
		_, _ = be.Receive() // the query; then the server vanishes
	})
	p := startProxy(t, func(c *proxy.Config) { c.Upstream = dsn })
	c := dialRaw(t, p.addr)
	c.login("x")
	c.write(message('Q', []byte("SELECT 1\x00")))
	c.expectFatal("08006")
}

// TestUpstreamKilled terminates the real upstream backend of a session.
func TestUpstreamKilled(t *testing.T) {
	p := startProxy(t, nil)
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	var pid int
	if err := conn.QueryRow(ctxT(t), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pgtest.AdminDSN(), "SELECT pg_terminate_backend($1)", pid)
	_, err := conn.Exec(ctxT(t), "SELECT 1")
	if err == nil {
		t.Fatal("query succeeded on a session whose upstream was terminated")
	}
	if code := sqlState(err); code != "57P01" && code != "08006" && !conn.IsClosed() {
		t.Fatalf("err = %v (%s)", err, code)
	}
}

// TestUnreachableUpstream: connecting when the upstream is down gives 08006
// with a message naming the cause.
func TestUnreachableUpstream(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	p := startProxy(t, func(c *proxy.Config) { c.Upstream = "postgres://x@" + addr + "/x?sslmode=disable" })
	_, err := pgx.Connect(ctxT(t), p.dsn(t, "postgres://x@h/x"))
	if sqlState(err) != "08006" || !strings.Contains(err.Error(), "could not connect") {
		t.Fatalf("err = %v, want 08006 could not connect", err)
	}
}

// TestSASLChannelBindingHidden: the proxy never offers SCRAM-SHA-256-PLUS,
// because the client's TLS channel ends at the proxy.
func TestSASLChannelBindingHidden(t *testing.T) {
	dsn := fakeUpstream(t, func(be *pgproto3.Backend, conn net.Conn) {
		sendAll(conn, &pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}})
		_, _ = io.Copy(io.Discard, conn)
	})
	p := startProxy(t, func(c *proxy.Config) { c.Upstream = dsn })
	c := dialRaw(t, p.addr)
	c.write(startupPacket(map[string]string{"user": "x", "database": "x"}))
	m, err := c.fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	sasl, ok := m.(*pgproto3.AuthenticationSASL)
	if !ok || len(sasl.AuthMechanisms) != 1 || sasl.AuthMechanisms[0] != "SCRAM-SHA-256" {
		t.Fatalf("client was offered %#v", m)
	}
}

// TestClientGoneCancelsQuery: a client that disconnects mid-query gets its
// upstream query cancelled, not left running.
func TestClientGoneCancelsQuery(t *testing.T) {
	p := startProxy(t, nil)
	c := dialRaw(t, p.addr)
	c.login("postgres")
	c.write(message('Q', []byte("SELECT pg_sleep(60) /* client-gone */\x00")))
	waitActive(t, "client-gone", 1)
	c.conn.Close()
	waitActive(t, "client-gone", 0)
}

// TestShutdown: idle sessions close at once, a running query finishes, and
// Shutdown returns when the last session is gone.
func TestShutdown(t *testing.T) {
	p := startProxy(t, nil)
	db := pgtest.NewDB(t)
	idle, busy := connect(t, p.dsn(t, db)), connect(t, p.dsn(t, db))
	res := make(chan error, 1)
	go func() {
		_, err := busy.Exec(context.Background(), "SELECT pg_sleep(1) /* busy-at-shutdown */")
		res <- err
	}()
	waitActive(t, "busy-at-shutdown", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-res; err != nil {
		t.Fatalf("query running at shutdown failed: %v", err)
	}
	if _, err := idle.Exec(ctxT(t), "SELECT 1"); err == nil {
		t.Fatal("idle session still works after Shutdown")
	}
	if err := <-p.done; !errors.Is(err, proxy.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	p.done <- proxy.ErrServerClosed // for the cleanup's check
	if _, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

// TestShutdownDeadline: a session holding a transaction open past the
// deadline is closed, and its client is told why.
func TestShutdownDeadline(t *testing.T) {
	p := startProxy(t, nil)
	c := dialRaw(t, p.addr)
	c.login("postgres")
	c.write(message('Q', []byte("BEGIN\x00")))
	c.until(func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := p.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	c.expectFatal("57P01")
}

var _ = bufio.NewReader
