// Package proxy owns the PostgreSQL wire proxy: the listener, one session per
// client connection (session pooling: one upstream connection per client),
// the startup, TLS and authentication relay, the simple and extended query
// protocols, COPY, cancel requests and shutdown.
//
// Messages are the pgx/v5 pgproto3 types. The proxy frames messages itself on
// a bufio.Reader instead of using pgproto3.Backend or Frontend: those read
// ahead into a private buffer, which hides whether more messages are already
// waiting, and a relay needs exactly that to batch its writes (flush only when
// nothing more is buffered). Bodies the proxy must understand (Query, Parse,
// startup and authentication messages, ParameterStatus, ReadyForQuery) are
// decoded with pgproto3; everything else, DataRow streams in particular, is
// relayed as bytes without being decoded. Client messages are capped at
// Config.MaxMessageSize, checked on the length word before the body is read.
//
// Every statement text (Query and Parse) passes through Config.Hook, where the
// rewriter plugs in. The proxy must not interpret SQL itself.
package proxy
