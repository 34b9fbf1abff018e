package proxy

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Startup packet codes (the int32 after the length word).
const (
	maxStartupPacket = 10000 // PostgreSQL's MAX_STARTUP_PACKET_LENGTH
	sslRequestCode   = 80877103
	gssEncCode       = 80877104
	cancelCode       = 80877102
	protocol30       = 3 << 16
)

// readStartupPacket reads one length-prefixed startup packet with exact
// reads, so nothing the client sent after it is buffered here: bytes sent
// after an SSLRequest stay in the socket and are read (and rejected) by the
// TLS handshake, never interpreted as plaintext protocol.
func readStartupPacket(r io.Reader) (code uint32, body []byte, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:])))
	if n < 8 || n > maxStartupPacket {
		return 0, nil, newClientError(codeProtocolViolation, "invalid length of startup packet: %d", n)
	}
	body = make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	return binary.BigEndian.Uint32(body), body, nil
}

// startupResult is what the client asked for in its startup phase.
type startupResult struct {
	msg       *pgproto3.StartupMessage // nil for a cancel request
	cancel    *pgproto3.CancelRequest
	negotiate *pgproto3.NegotiateProtocolVersion // to send before authentication
	tls       bool
}

// clientStartup runs the client's startup phase: SSLRequest (upgrading conn
// when configured), GSSENCRequest, then a StartupMessage or CancelRequest.
// It returns the possibly TLS-wrapped connection.
func clientStartup(conn net.Conn, tlsCfg *tls.Config) (net.Conn, *startupResult, error) {
	res := &startupResult{}
	for {
		code, body, err := readStartupPacket(conn)
		if err != nil {
			return conn, nil, err
		}
		switch code {
		case sslRequestCode:
			if conn, err = answerSSL(conn, tlsCfg, res); err != nil {
				return conn, nil, err
			}
		case gssEncCode:
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return conn, nil, err
			}
		case cancelCode:
			res.cancel = &pgproto3.CancelRequest{}
			if err := res.cancel.Decode(body); err != nil {
				return conn, nil, newClientError(codeProtocolViolation, "invalid cancel request: %v", err)
			}
			return conn, res, nil
		default:
			err := decodeStartup(body, res)
			return conn, res, err
		}
	}
}

// answerSSL answers an SSLRequest and performs the server side of the TLS
// handshake when the proxy has a certificate.
func answerSSL(conn net.Conn, tlsCfg *tls.Config, res *startupResult) (net.Conn, error) {
	if res.tls {
		return conn, newClientError(codeProtocolViolation, "SSLRequest received on an encrypted connection")
	}
	if tlsCfg == nil {
		_, err := conn.Write([]byte{'N'})
		return conn, err
	}
	if _, err := conn.Write([]byte{'S'}); err != nil {
		return conn, err
	}
	tc := tls.Server(conn, tlsCfg)
	if err := tc.Handshake(); err != nil {
		return conn, fmt.Errorf("tls handshake: %w", err)
	}
	res.tls = true
	return tc, nil
}

// decodeStartup decodes a StartupMessage body. Protocol 3.x with x > 0 and
// _pq_.* options are downgraded to plain 3.0 with NegotiateProtocolVersion,
// which is all the proxy (and the upstream it speaks to) uses.
func decodeStartup(body []byte, res *startupResult) error {
	version := binary.BigEndian.Uint32(body)
	if version>>16 != 3 {
		return newClientError(codeFeatureNotSupported,
			"unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", version>>16, version&0xffff)
	}
	binary.BigEndian.PutUint32(body, protocol30)
	msg := &pgproto3.StartupMessage{}
	if err := msg.Decode(body); err != nil {
		return newClientError(codeProtocolViolation, "invalid startup packet: %v", err)
	}
	var unrecognized []string
	for k := range msg.Parameters {
		if strings.HasPrefix(k, "_pq_.") {
			unrecognized = append(unrecognized, k)
			delete(msg.Parameters, k)
		}
	}
	if version != protocol30 || len(unrecognized) > 0 {
		res.negotiate = &pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unrecognized}
	}
	res.msg = msg
	return nil
}
