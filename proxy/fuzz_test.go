package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// byteConn is a net.Conn that reads from a fixed input and discards writes.
type byteConn struct{ r io.Reader }

func (c byteConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c byteConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c byteConn) Close() error                     { return nil }
func (c byteConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c byteConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c byteConn) SetDeadline(time.Time) error      { return nil }
func (c byteConn) SetReadDeadline(time.Time) error  { return nil }
func (c byteConn) SetWriteDeadline(time.Time) error { return nil }

func msg(typ byte, body string) []byte {
	b := append([]byte{typ}, binary.BigEndian.AppendUint32(nil, uint32(len(body)+4))...)
	return append(b, body...)
}

func startup(params ...string) []byte {
	body := binary.BigEndian.AppendUint32(nil, protocol30)
	for _, p := range params {
		body = append(append(body, p...), 0)
	}
	body = append(body, 0)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)
}

// FuzzClientStartup feeds arbitrary bytes to the startup phase: SSLRequest,
// GSSENCRequest, CancelRequest and StartupMessage decoding.
func FuzzClientStartup(f *testing.F) {
	f.Add(startup("user", "postgres", "database", "db"))
	f.Add(append([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30}, startup("user", "u")...)) // GSSENC, then startup
	f.Add([]byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 1, 2, 3, 4})         // CancelRequest
	f.Add([]byte{0, 0, 0, 8, 0, 3, 0, 2})
	f.Add([]byte{0, 0, 0, 9, 0, 3, 0, 0, 'x'})
	f.Fuzz(func(t *testing.T, in []byte) {
		_, res, err := clientStartup(byteConn{bytes.NewReader(in)}, nil)
		if err == nil && res.msg == nil && res.cancel == nil {
			t.Fatal("startup succeeded without a message")
		}
		if err == nil && res.msg != nil && res.msg.Parameters == nil {
			t.Fatal("startup message without parameters map")
		}
	})
}

type identityHook struct{}

// Statement keeps the text, and exercises retagging and execution watches
// for statements that mention them.
func (identityHook) Statement(_ context.Context, _ *SessionState, _ StatementKind, sql string) Rewrite {
	rw := Rewrite{SQL: sql}
	if strings.Contains(sql, "DO") {
		rw.Tag = "CREATE TABLE"
	}
	if strings.Contains(sql, "watch") {
		rw.OnExecute = func(context.Context) error { return nil }
	}
	return rw
}

// fuzzSession is a session whose client sends in and whose upstream
// sends up; everything written goes nowhere.
func fuzzSession(srv *Server, client, up []byte) *session {
	s := &session{srv: srv, log: srv.log, state: newSessionState(map[string]string{})}
	s.client, s.up = byteConn{bytes.NewReader(client)}, byteConn{bytes.NewReader(up)}
	s.clR, s.clW = bufio.NewReaderSize(s.client, bufSize), bufio.NewWriterSize(io.Discard, bufSize)
	s.upR, s.upW = bufio.NewReaderSize(s.up, bufSize), bufio.NewWriterSize(io.Discard, bufSize)
	return s
}

func fuzzServer(f *testing.F, hook Hook) *Server {
	cfg := DefaultConfig()
	cfg.Upstream = "postgres://x@127.0.0.1:1/x"
	cfg.Hook = hook
	cfg.MaxMessageSize = 4096
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		f.Fatal(err)
	}
	return srv
}

// FuzzClientMessages feeds arbitrary bytes to the client relay loop with a
// hook installed, so Query and Parse bodies are decoded.
func FuzzClientMessages(f *testing.F) {
	f.Add(msg('Q', "SELECT 1\x00"))
	f.Add(append(append(msg('P', "s\x00SELECT $1\x00\x00\x01\x00\x00\x00\x17"), msg('B', "\x00s\x00\x00\x00\x00\x01\x00\x00\x00\x011\x00\x00")...), msg('S', "")...))
	f.Add(append(msg('d', "1\t2\n"), msg('c', "")...))
	f.Add(msg('P', "\x00"))
	f.Add(msg('X', ""))
	f.Add(append(append(msg('P', "w\x00SELECT watch\x00\x00\x00"), msg('B', "\x00w\x00\x00\x00\x00\x00\x00\x00")...), msg('C', "Sw\x00")...))
	srv := fuzzServer(f, identityHook{})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := fuzzSession(srv, in, nil)
		if err := s.clientLoop(); err == nil {
			t.Fatal("client loop ended without an error")
		}
		if s.state.pending.Load() < 0 {
			t.Fatal("negative pending count")
		}
	})
}

// FuzzUpstreamMessages feeds arbitrary bytes to the authentication relay and
// the upstream relay loop. The upstream is trusted, but its bytes must still
// never panic the proxy.
func FuzzUpstreamMessages(f *testing.F) {
	ok := append(append(msg('R', "\x00\x00\x00\x00"), msg('S', "TimeZone\x00UTC\x00")...), msg('K', "\x00\x00\x00\x07\x01\x02\x03\x04")...)
	ok = append(ok, msg('Z', "I")...)
	f.Add(ok, msg('p', "secret\x00"))
	f.Add(msg('R', "\x00\x00\x00\x0aSCRAM-SHA-256\x00\x00"), msg('p', "SCRAM-SHA-256\x00\x00\x00\x00\x04y,,x"))
	f.Add(msg('R', "\x00\x00\x00\x05salt"), msg('p', "md5abc\x00"))
	f.Add(append(msg('E', "SFATAL\x00C28P01\x00Mbad\x00\x00"), msg('Z', "I")...), []byte{})
	srv := fuzzServer(f, nil)
	f.Fuzz(func(t *testing.T, up, client []byte) {
		s := fuzzSession(srv, client, up)
		if err := s.authenticate(); err != nil {
			return
		}
		if err := s.upstreamLoop(); err == nil {
			t.Fatal("upstream loop ended without an error")
		}
	})
}
