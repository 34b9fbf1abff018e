package proxy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// headerLen is the size of a regular message header: type byte + int32 length
// (the length counts itself but not the type byte).
const headerLen = 5

// frame is the header of one regular protocol message.
type frame struct {
	typ     byte
	bodyLen int
}

// total is the size of the whole message on the wire.
func (f frame) total() int { return headerLen + f.bodyLen }

// readFrame reads the next message header without consuming it. maxBody <= 0
// means no limit. The header stays in r so that relay can forward it as is.
func readFrame(r *bufio.Reader, maxBody int) (frame, error) {
	h, err := r.Peek(headerLen)
	if err != nil {
		return frame{}, err
	}
	n := int(int32(binary.BigEndian.Uint32(h[1:])))
	if n < 4 {
		return frame{}, newClientError(codeProtocolViolation, "invalid message length %d for message type %q", n, h[0])
	}
	f := frame{typ: h[0], bodyLen: n - 4}
	if maxBody > 0 && f.bodyLen > maxBody {
		return f, newClientError(codeProgramLimitExceeded,
			"message of type %q is %d bytes, over the proxy's limit of %d bytes", f.typ, f.bodyLen, maxBody).
			withHint("Raise --max-message-size (SPIRAL_MAX_MESSAGE_SIZE) if such messages are expected.")
	}
	return f, nil
}

// readBody consumes the message described by f and returns its body. The
// slice is valid until the next read from r when it fits r's buffer;
// otherwise it is freshly allocated.
func readBody(r *bufio.Reader, f frame) ([]byte, error) {
	if f.total() <= r.Size() {
		b, err := r.Peek(f.total())
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		_, _ = r.Discard(f.total())
		return b[headerLen:], nil
	}
	if _, err := r.Discard(headerLen); err != nil {
		return nil, unexpectedEOF(err)
	}
	b := make([]byte, f.bodyLen)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, unexpectedEOF(err)
	}
	return b, nil
}

// relay copies the message described by f from r to w without decoding it.
// Messages larger than r's buffer are streamed, never held whole.
func relay(w *bufio.Writer, r *bufio.Reader, f frame) error {
	if f.total() <= r.Size() {
		b, err := r.Peek(f.total())
		if err != nil {
			return unexpectedEOF(err)
		}
		if _, err := w.Write(b); err != nil {
			return wrapWrite(err)
		}
		_, _ = r.Discard(f.total())
		return nil
	}
	return copyMessage(w, r, int64(f.total()))
}

// copyMessage streams n bytes from r to w, telling read and write failures
// apart.
func copyMessage(w *bufio.Writer, r *bufio.Reader, n int64) error {
	for n > 0 {
		b, err := r.Peek(min(int(n), r.Size()))
		if len(b) == 0 {
			return unexpectedEOF(err)
		}
		if _, err := w.Write(b); err != nil {
			return wrapWrite(err)
		}
		_, _ = r.Discard(len(b))
		n -= int64(len(b))
	}
	return nil
}

// skip discards the message described by f.
func skip(r *bufio.Reader, f frame) error {
	_, err := r.Discard(f.total())
	return unexpectedEOF(err)
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeError marks a failure to write to the destination of a relay, so a
// loop can tell which of its two connections broke.
type writeError struct{ err error }

func (e *writeError) Error() string { return "write: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func wrapWrite(err error) error {
	if err == nil {
		return nil
	}
	return &writeError{err}
}

// encoder is implemented by every pgproto3 message.
type encoder interface {
	Encode(dst []byte) ([]byte, error)
}

// writeMsg encodes m into w.
func writeMsg(w io.Writer, m encoder) error {
	b, err := m.Encode(nil)
	if err != nil {
		return fmt.Errorf("encode %T: %w", m, err)
	}
	_, err = w.Write(b)
	return wrapWrite(err)
}
