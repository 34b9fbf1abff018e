package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Authentication request codes (the int32 at the start of an 'R' message).
const (
	authOK           = 0
	authCleartext    = 3
	authMD5          = 5
	authSASL         = 10
	authSASLContinue = 11
	authSASLFinal    = 12
)

// errAuthRejected ends a session whose upstream refused it; the client has
// already received the upstream's ErrorResponse.
var errAuthRejected = errors.New("proxy: upstream rejected the session")

// authenticate relays the authentication exchange between client and
// upstream so that PostgreSQL itself checks the credentials, then relays the
// ParameterStatus messages and ReadyForQuery that open the session. The
// upstream's BackendKeyData is kept and replaced by the proxy's own key.
func (s *session) authenticate() error {
	for {
		f, err := readFrame(s.upR, 0)
		if err != nil {
			return upstreamLost(err)
		}
		done, err := s.authMessage(f)
		if err != nil || done {
			return err
		}
	}
}

// authMessage handles one upstream message of the startup phase and reports
// whether the session is ready for queries.
func (s *session) authMessage(f frame) (bool, error) {
	switch f.typ {
	case 'R':
		return false, s.authRequest(f)
	case 'K':
		return false, s.backendKey(f)
	case 'S':
		return false, s.parameterStatus(f)
	case 'Z':
		err := s.readyForQuery(f)
		s.tags.done.Store(0) // the session's first ReadyForQuery answers no request
		return true, err
	case 'E':
		if err := relay(s.clW, s.upR, f); err != nil {
			return false, err
		}
		return false, errors.Join(errAuthRejected, s.clW.Flush())
	case 'N', 'v':
		return false, relay(s.clW, s.upR, f)
	default:
		return false, newClientError(codeProtocolViolation, "unexpected message %q from upstream during startup", f.typ)
	}
}

// authRequest relays one AuthenticationXXX request and, where it asks for
// one, the client's answer.
func (s *session) authRequest(f frame) error {
	if f.total() > s.upR.Size() || f.bodyLen < 4 {
		return newClientError(codeProtocolViolation, "malformed authentication request from upstream")
	}
	msg, err := s.upR.Peek(f.total())
	if err != nil {
		return upstreamLost(unexpectedEOF(err))
	}
	code := binary.BigEndian.Uint32(msg[headerLen:])
	switch code {
	case authOK, authSASLFinal:
		return relay(s.clW, s.upR, f)
	case authCleartext, authMD5, authSASLContinue:
		if err := relay(s.clW, s.upR, f); err != nil {
			return err
		}
		return s.relayPassword(nil)
	case authSASL:
		return s.saslStart(f)
	default:
		return newClientError(codeFeatureNotSupported,
			"authentication method %d requested by the upstream server is not supported through spiral", code).
			withHint("Use trust, password, md5 or scram-sha-256 authentication for connections from spiral.")
	}
}

// saslStart relays AuthenticationSASL without the channel-binding
// mechanisms: the client's TLS channel ends at the proxy, so binding to it
// cannot be verified upstream.
func (s *session) saslStart(f frame) error {
	body, err := readBody(s.upR, f)
	if err != nil {
		return err
	}
	var req pgproto3.AuthenticationSASL
	if err := req.Decode(body); err != nil {
		return newClientError(codeProtocolViolation, "malformed SASL request from upstream: %v", err)
	}
	var mechs []string
	for _, m := range req.AuthMechanisms {
		if !strings.HasSuffix(m, "-PLUS") {
			mechs = append(mechs, m)
		}
	}
	if len(mechs) == 0 {
		return newClientError(codeFeatureNotSupported,
			"the upstream server offers only channel-binding SASL mechanisms %v, which cannot work through a proxy", req.AuthMechanisms)
	}
	if err := writeMsg(s.clW, &pgproto3.AuthenticationSASL{AuthMechanisms: mechs}); err != nil {
		return err
	}
	return s.relayPassword(s.checkSASLInitial)
}

// relayPassword flushes the pending request to the client and relays its
// 'p' answer upstream, after check (when given) approves the body.
func (s *session) relayPassword(check func([]byte) error) error {
	if err := s.clW.Flush(); err != nil {
		return err
	}
	f, err := readFrame(s.clR, s.srv.cfg.MaxMessageSize)
	if err != nil {
		return err
	}
	if f.typ != 'p' {
		return newClientError(codeProtocolViolation, "expected password response, got message type %q", f.typ)
	}
	if check != nil {
		if err := s.checkPeek(f, check); err != nil {
			return err
		}
	}
	if err := relay(s.upW, s.clR, f); err != nil {
		return err
	}
	return s.upW.Flush()
}

func (s *session) checkPeek(f frame, check func([]byte) error) error {
	if f.total() > s.clR.Size() {
		return newClientError(codeProtocolViolation, "SASL initial response of %d bytes is too long", f.bodyLen)
	}
	msg, err := s.clR.Peek(f.total())
	if err != nil {
		return unexpectedEOF(err)
	}
	return check(msg[headerLen:])
}

// checkSASLInitial refuses the one SCRAM exchange that cannot succeed: a
// client that supports channel binding ("y" flag) talking through a TLS
// upstream, which PostgreSQL rejects as a downgrade attack.
func (s *session) checkSASLInitial(body []byte) error {
	var m pgproto3.SASLInitialResponse
	if err := m.Decode(body); err != nil {
		return newClientError(codeProtocolViolation, "malformed SASL initial response: %v", err)
	}
	if s.upTLS && bytes.HasPrefix(m.Data, []byte("y,")) {
		return newClientError(codeInvalidAuthorization,
			"SCRAM channel binding cannot work through spiral when both the client and the upstream connection use TLS").
			withHint("Connect with channel_binding=disable, or connect to spiral without TLS.")
	}
	return nil
}

// backendKey keeps the upstream's cancel key and gives the client the key
// the proxy minted for this session.
func (s *session) backendKey(f frame) error {
	body, err := readBody(s.upR, f)
	if err != nil {
		return err
	}
	key := &pgproto3.BackendKeyData{}
	if err := key.Decode(body); err != nil {
		return newClientError(codeProtocolViolation, "malformed BackendKeyData from upstream: %v", err)
	}
	s.upKey = key
	s.state.backendPID = key.ProcessID
	return writeMsg(s.clW, &pgproto3.BackendKeyData{ProcessID: s.key.pid, SecretKey: s.key.secret[:]})
}

// parameterStatus records a ParameterStatus and relays it.
func (s *session) parameterStatus(f frame) error {
	if f.total() <= s.upR.Size() {
		msg, err := s.upR.Peek(f.total())
		if err != nil {
			return unexpectedEOF(err)
		}
		var ps pgproto3.ParameterStatus
		if err := ps.Decode(msg[headerLen:]); err != nil {
			return fmt.Errorf("malformed ParameterStatus from upstream: %w", err)
		}
		s.state.setParam(ps.Name, ps.Value)
	}
	return relay(s.clW, s.upR, f)
}

// readyForQuery records the transaction status and the end of one request.
func (s *session) readyForQuery(f frame) error {
	if f.bodyLen != 1 {
		return newClientError(codeProtocolViolation, "malformed ReadyForQuery from upstream")
	}
	msg, err := s.upR.Peek(f.total())
	if err != nil {
		return unexpectedEOF(err)
	}
	s.state.txStatus.Store(uint32(msg[headerLen]))
	s.tags.requestDone()
	s.fin.requestDone(s.tags.done.Load())
	s.state.requestDone()
	return relay(s.clW, s.upR, f)
}

// upstreamLost is what the client is told when the upstream connection
// breaks: SQLSTATE 08006, and the session ends.
func upstreamLost(err error) error {
	var ce *clientError
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return newClientError(codeConnectionFailure, "lost connection to the upstream server")
	}
	return newClientError(codeConnectionFailure, "lost connection to the upstream server: %v", err)
}
