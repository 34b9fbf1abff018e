package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// target is one way to reach the upstream server: an address and whether to
// negotiate TLS there. A DSN yields several (multiple hosts, or sslmode=prefer
// trying TLS first and then plaintext), tried in order like libpq does.
type target struct {
	network, addr string
	tls           *tls.Config
}

// upstreamTargets derives the connection attempts from an upstream DSN using
// pgconn's libpq-compatible parser, so sslmode, sslrootcert, multiple hosts
// and PG* environment variables mean what they mean to psql.
func upstreamTargets(dsn string) ([]target, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse upstream dsn: %w", err)
	}
	ts := []target{newTarget(cfg.Host, cfg.Port, cfg.TLSConfig)}
	for _, fb := range cfg.Fallbacks {
		ts = append(ts, newTarget(fb.Host, fb.Port, fb.TLSConfig))
	}
	return ts, nil
}

func newTarget(host string, port uint16, tlsCfg *tls.Config) target {
	network, addr := pgconn.NetworkAddress(host, port)
	return target{network: network, addr: addr, tls: tlsCfg}
}

// errTLSRefused is returned when the server answers an SSLRequest with 'N'.
var errTLSRefused = errors.New("proxy: upstream refused TLS")

// dialUpstream connects to the first target that accepts, negotiating TLS
// where the target asks for it. It returns the connection and its target.
func dialUpstream(ctx context.Context, targets []target) (net.Conn, target, error) {
	var errs []error
	for _, t := range targets {
		conn, err := dialTarget(ctx, t)
		if err == nil {
			return conn, t, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t.addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, target{}, errors.Join(errs...)
}

func dialTarget(ctx context.Context, t target) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, t.network, t.addr)
	if err != nil || t.tls == nil {
		return conn, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
		defer conn.SetDeadline(noDeadline)
	}
	tc, err := startTLS(conn, t.tls)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// startTLS sends SSLRequest and, on 'S', runs the client TLS handshake.
func startTLS(conn net.Conn, cfg *tls.Config) (net.Conn, error) {
	if err := writeMsg(conn, &pgproto3.SSLRequest{}); err != nil {
		return nil, err
	}
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		return nil, fmt.Errorf("read ssl response: %w", err)
	}
	if b[0] != 'S' {
		return nil, errTLSRefused
	}
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil
}

// sendCancel forwards a cancel request for the upstream backend key to t.
// Cancel requests always go unencrypted, as libpq sends them.
func sendCancel(ctx context.Context, t target, key *pgproto3.BackendKeyData) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, t.network, t.addr)
	if err != nil {
		return fmt.Errorf("dial for cancel: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req := &pgproto3.CancelRequest{ProcessID: key.ProcessID, SecretKey: key.SecretKey}
	if err := writeMsg(conn, req); err != nil {
		return fmt.Errorf("send cancel: %w", err)
	}
	// The server closes the connection once it has processed the request.
	var b [1]byte
	_, _ = conn.Read(b[:])
	return nil
}
