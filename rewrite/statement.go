package rewrite

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"spiral/internal/pgerr"
	"spiral/rollup"
)

// Statement is what Classify makes of one simple-protocol query string: a
// spiral statement the proxy must handle itself, a statement to send upstream
// unchanged (PassThrough), or a spiral statement that must be refused with an
// error (*Invalid). The set of implementations is closed.
type Statement interface {
	statement()
}

// PassThrough is a statement spiral does not intercept; the proxy sends it
// upstream unchanged.
type PassThrough struct{}

// Invalid is a spiral statement that cannot run; the proxy answers with Err
// and sends nothing upstream.
type Invalid struct {
	Err *pgerr.Error
}

// CreateTracked is `CREATE TABLE ... WITH (spiral.* = ...)`.
type CreateTracked struct {
	// Table is the parsed and validated spec. Schema is "" when the name
	// was not schema-qualified.
	Table rollup.Table
	// BaseSQL creates the base table: the statement deparsed without its
	// spiral.* options and without comments; other options are kept.
	BaseSQL string
	// IfNotExists is set for CREATE TABLE IF NOT EXISTS.
	IfNotExists bool
}

// AlterTracked is `ALTER TABLE name SET (spiral.x = '...', ...)`.
type AlterTracked struct {
	Schema, Name string // Schema is "" when the name was not qualified
	// Options maps option names without the "spiral." prefix ("frames",
	// "tenant", "timezone", "time_column") to their values as written. Each
	// value has been checked the way CREATE TABLE checks it, short of the
	// checks that need the table's columns.
	Options map[string]string
}

// RefreshCall is `SELECT spiral_refresh('tbl'[, 'scope']) [AS alias]`.
type RefreshCall struct {
	Table        string // the first argument as given, e.g. `public.ticks`
	Schema, Name string // Table split by PostgreSQL identifier rules; Schema may be ""
	Scope        string // the second argument, raw predicate text; "" if absent
	Alias        string // the result column name: the AS alias or "spiral_refresh"
}

func (PassThrough) statement()    {}
func (*Invalid) statement()       {}
func (*CreateTracked) statement() {}
func (*AlterTracked) statement()  {}
func (*RefreshCall) statement()   {}

// Classify reports whether sql is a spiral statement. Text that does not
// contain "spiral" in any letter case is passed through without parsing.
// Text that does not parse is passed through too: PostgreSQL reports the
// syntax error itself. A spiral statement must be the only statement in sql.
//
// Text that is not valid UTF-8 or holds a NUL byte passes through: spiral
// records names as UTF-8, and PostgreSQL rejects or converts such text
// itself. Identifiers spelled with Unicode escapes (U&"...") are not
// recognised as spiral names; such statements pass through and PostgreSQL
// rejects them.
func Classify(sql string) Statement {
	if !containsFold(sql, "spiral") || !utf8.ValidString(sql) || strings.IndexByte(sql, 0) >= 0 {
		return PassThrough{}
	}
	tree, err := pg.Parse(sql)
	if err != nil || len(tree.Stmts) == 0 {
		return PassThrough{}
	}
	if len(tree.Stmts) > 1 {
		return classifyMany(sql, tree)
	}
	st, err := classifyOne(sql, tree, tree.Stmts[0])
	if err != nil {
		return &Invalid{Err: toPgErr(err)}
	}
	return st
}

// classifyMany refuses a multi-statement string that contains a spiral
// statement and passes any other through.
func classifyMany(sql string, tree *pg.ParseResult) Statement {
	magic := magicOffsets(sql)
	for _, raw := range tree.Stmts {
		if isSpiral(raw.Stmt) || hasMagicIn(raw, magic) {
			return &Invalid{Err: pgerr.New(pgerr.FeatureNotSupported,
				"spiral statements must be sent alone").
				WithHint("send the spiral statement as its own query, without other statements in the same string")}
		}
	}
	return PassThrough{}
}

// classifyOne classifies the only statement of sql.
func classifyOne(sql string, tree *pg.ParseResult, raw *pg.RawStmt) (Statement, error) {
	switch n := raw.Stmt.Node.(type) {
	case *pg.Node_CreateStmt:
		if hasSpiralOption(n.CreateStmt.Options) {
			return parseCreate(sql, tree)
		}
		if len(magicOffsets(sql)) > 0 {
			return nil, errMagicWithoutOptions(sql)
		}
		return PassThrough{}, nil
	case *pg.Node_AlterTableStmt:
		if isSpiral(raw.Stmt) {
			return parseAlter(n.AlterTableStmt)
		}
	case *pg.Node_SelectStmt:
		if callsRefresh(raw.Stmt) {
			return parseRefresh(n.SelectStmt)
		}
	case *pg.Node_VariableSetStmt:
		if isSetting(n.VariableSetStmt.Name) {
			return parseSet(n.VariableSetStmt)
		}
	case *pg.Node_VariableShowStmt:
		if isSetting(n.VariableShowStmt.Name) {
			name, err := settingName(n.VariableShowStmt.Name)
			if err != nil {
				return nil, err
			}
			return &SessionShow{Name: name}, nil
		}
	}
	if isSpiral(raw.Stmt) {
		return nil, errUnsupportedForm()
	}
	return PassThrough{}, nil
}

// errUnsupportedForm is the error for spiral options or spiral_refresh in a
// statement spiral does not handle.
func errUnsupportedForm() error {
	return pgerr.New(pgerr.FeatureNotSupported,
		"spiral options and spiral_refresh are not supported in this statement").
		WithHint("use CREATE TABLE ... WITH (spiral.frames = '...'), ALTER TABLE name SET (spiral.x = '...') or SELECT spiral_refresh('table'[, 'scope']) on its own")
}

// isSpiral reports whether n uses a spiral.* option or calls spiral_refresh
// anywhere in its tree.
func isSpiral(n *pg.Node) bool {
	return walk(n.ProtoReflect(), func(m protoreflect.Message) bool {
		switch v := m.Interface().(type) {
		case *pg.DefElem:
			return v.Defnamespace == "spiral"
		case *pg.FuncCall:
			return isRefreshName(v.Funcname)
		}
		return false
	})
}

// callsRefresh reports whether n calls spiral_refresh anywhere in its tree.
func callsRefresh(n *pg.Node) bool {
	return walk(n.ProtoReflect(), func(m protoreflect.Message) bool {
		f, ok := m.Interface().(*pg.FuncCall)
		return ok && isRefreshName(f.Funcname)
	})
}

// walk calls match on m and every message below it, depth first, and
// reports whether match returned true for any of them.
func walk(m protoreflect.Message, match func(protoreflect.Message) bool) bool {
	if match(m) {
		return true
	}
	return !eachChild(m, func(c protoreflect.Message, _ func(*pg.Node)) bool { return !walk(c, match) })
}

// isRefreshName reports whether a function name is spiral_refresh or
// spiral.spiral_refresh (names arrive case-folded by the parser).
func isRefreshName(names []*pg.Node) bool {
	parts := stringList(names)
	switch len(parts) {
	case 1:
		return parts[0] == "spiral_refresh"
	case 2:
		return parts[0] == "spiral" && parts[1] == "spiral_refresh"
	}
	return false
}

// stringList returns the String values of nodes; other nodes give "".
func stringList(nodes []*pg.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.GetString_().GetSval()
	}
	return out
}

// toPgErr returns err as a *pgerr.Error; an error without a SQLSTATE is an
// internal error.
func toPgErr(err error) *pgerr.Error {
	if e := pgerr.As(err); e != nil {
		return e
	}
	return pgerr.New(pgerr.InternalError, "%v", err)
}

// containsFold reports whether s contains sub with ASCII letters in any
// case, without allocating. Other bytes must be equal.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) && lowerASCII(s[i+j]) == lowerASCII(sub[j]) {
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// lowerASCII folds an ASCII upper-case letter to lower case.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// refreshHint is the hint for every malformed spiral_refresh call.
const refreshHint = "call it alone: SELECT spiral_refresh('table') or SELECT spiral_refresh('table', 'column = value'), with string literals as arguments"

// parseRefresh parses `SELECT spiral_refresh('tbl'[, 'scope']) [AS alias]`,
// the only shape in which spiral_refresh may be called.
func parseRefresh(s *pg.SelectStmt) (*RefreshCall, error) {
	target, call := refreshTarget(s)
	if call == nil {
		return nil, errRefresh("spiral_refresh must be the only item of a SELECT without FROM, WHERE or other clauses")
	}
	args, err := refreshArgs(call)
	if err != nil {
		return nil, err
	}
	schema, name, err := ParseQualifiedName(args[0])
	if err != nil {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "spiral_refresh: invalid table name %q: %v", args[0], err).
			WithHint(`name the table as in SQL: ticks, public.ticks or "My Table"`)
	}
	rc := &RefreshCall{Table: args[0], Schema: schema, Name: name, Alias: target.Name}
	if len(args) == 2 {
		rc.Scope = args[1]
	}
	if rc.Alias == "" {
		rc.Alias = "spiral_refresh"
	}
	return rc, nil
}

// refreshTarget returns the single target of s and its spiral_refresh call,
// or a nil call when s has any other shape.
func refreshTarget(s *pg.SelectStmt) (*pg.ResTarget, *pg.FuncCall) {
	rest := proto.Clone(s).(*pg.SelectStmt)
	rest.TargetList = nil
	bare := &pg.SelectStmt{LimitOption: pg.LimitOption_LIMIT_OPTION_DEFAULT, Op: pg.SetOperation_SETOP_NONE}
	if len(s.TargetList) != 1 || !proto.Equal(rest, bare) {
		return nil, nil
	}
	target := s.TargetList[0].GetResTarget()
	call := target.GetVal().GetFuncCall()
	if call == nil || len(target.Indirection) > 0 || !isRefreshName(call.Funcname) {
		return nil, nil
	}
	return target, call
}

// refreshArgs returns the one or two string-literal arguments of call.
func refreshArgs(call *pg.FuncCall) ([]string, error) {
	plain := proto.Clone(call).(*pg.FuncCall)
	plain.Args, plain.Funcname, plain.Location = nil, nil, 0
	if !proto.Equal(plain, &pg.FuncCall{Funcformat: pg.CoercionForm_COERCE_EXPLICIT_CALL}) {
		return nil, errRefresh("spiral_refresh takes plain arguments: no DISTINCT, ORDER BY, FILTER, OVER or VARIADIC")
	}
	if len(call.Args) < 1 || len(call.Args) > 2 {
		return nil, errRefresh("spiral_refresh takes one or two arguments, got %d", len(call.Args))
	}
	args := make([]string, len(call.Args))
	for i, a := range call.Args {
		c := a.GetAConst()
		if c == nil || c.GetSval() == nil {
			return nil, errRefresh("argument %d of spiral_refresh must be a string literal", i+1)
		}
		args[i] = c.GetSval().Sval
	}
	return args, nil
}

// errRefresh is a 0A000 error about a spiral_refresh call.
func errRefresh(format string, args ...any) error {
	return pgerr.New(pgerr.FeatureNotSupported, format, args...).WithHint(refreshHint)
}

// maxIdentLen is PostgreSQL's NAMEDATALEN-1: longer identifiers are
// truncated to this many bytes.
const maxIdentLen = 63

// ParseQualifiedName splits a table name written as in SQL, optionally
// schema-qualified, into its parts. Unquoted parts fold to lower case,
// "quoted" parts keep their case; schema is "" when not given.
func ParseQualifiedName(s string) (schema, name string, err error) {
	parts, err := splitIdents(s, '.')
	if err != nil {
		return "", "", err
	}
	switch len(parts) {
	case 1:
		return "", parts[0], nil
	case 2:
		return parts[0], parts[1], nil
	}
	return "", "", errors.New("too many dotted names")
}

// ParseIdentList parses a comma-separated list of identifiers, such as the
// value of spiral.tenant, by PostgreSQL rules. An empty or blank string is
// an empty list.
func ParseIdentList(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return splitIdents(s, ',')
}

// splitIdents splits s into identifiers separated by sep.
func splitIdents(s string, sep byte) ([]string, error) {
	var out []string
	for {
		id, rest, err := nextIdent(s)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
		rest = strings.TrimLeft(rest, spaceChars)
		if rest == "" {
			return out, nil
		}
		if rest[0] != sep {
			return nil, fmt.Errorf("unexpected %q after %q", rest[0], id)
		}
		s = rest[1:]
	}
}

// spaceChars is the white space PostgreSQL's scanner skips.
const spaceChars = " \t\n\r\f\v"

// nextIdent reads one identifier after optional white space and returns it
// and the text after it.
func nextIdent(s string) (id, rest string, err error) {
	s = strings.TrimLeft(s, spaceChars)
	if s == "" {
		return "", "", errors.New("missing identifier")
	}
	if s[0] == '"' {
		return quotedIdent(s)
	}
	i := 0
	for i < len(s) && isIdentByte(s[i], i == 0) {
		i++
	}
	if i == 0 {
		return "", "", fmt.Errorf("unexpected %q", s[0])
	}
	return truncateIdent(foldASCII(s[:i])), s[i:], nil
}

// quotedIdent reads a "quoted" identifier at the start of s; "" inside
// stands for one quote.
func quotedIdent(s string) (id, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] != '"':
			b.WriteByte(s[i])
		case i+1 < len(s) && s[i+1] == '"':
			b.WriteByte('"')
			i++
		case b.Len() == 0:
			return "", "", errors.New("zero-length quoted identifier")
		default:
			return truncateIdent(b.String()), s[i+1:], nil
		}
	}
	return "", "", errors.New("unterminated quoted identifier")
}

// isIdentByte reports whether c may appear in an unquoted identifier, at
// its start when first is set.
func isIdentByte(c byte, first bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_', c >= 0x80:
		return true
	case '0' <= c && c <= '9', c == '$':
		return !first
	}
	return false
}

// foldASCII lower-cases ASCII letters only, as PostgreSQL does for
// unquoted identifiers in multi-byte encodings.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}

// truncateIdent cuts id to maxIdentLen bytes on a character boundary.
func truncateIdent(id string) string {
	if len(id) <= maxIdentLen {
		return id
	}
	n := maxIdentLen
	for n > 0 && !utf8.RuneStart(id[n]) {
		n--
	}
	return id[:n]
}
