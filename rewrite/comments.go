package rewrite

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v5"

	"spiral/internal/pgerr"
	"spiral/rollup"
)

// A magic comment is `-- Spiral: kind[, kind...]` at the end of the line that
// declares a column in a spiral CREATE TABLE. Only the text of comment tokens
// found by PostgreSQL's own scanner is read, so `--` inside strings or quoted
// identifiers is never taken for a comment.

// comment is one magic comment: a comment token whose text starts with
// "spiral:" (any case, white space allowed around the words).
type comment struct {
	start int  // byte offset of the token in the statement text
	line  int  // 1-based line of start
	block bool // a /* */ comment, which cannot be magic
	body  string
}

// kindList is the valid kinds, for hints.
func kindList() string {
	names := make([]string, len(rollup.Kinds))
	for i, k := range rollup.Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// magicComments returns the magic comments of sql in text order.
func magicComments(sql string) ([]comment, error) {
	tokens, err := scanTokens(sql)
	if err != nil {
		return nil, err
	}
	return commentsIn(sql, tokens), nil
}

// scanTokens runs PostgreSQL's scanner over sql.
func scanTokens(sql string) ([]*pg.ScanToken, error) {
	scan, err := pg.Scan(sql)
	if err != nil {
		return nil, pgerr.New(pgerr.SyntaxError, "cannot scan statement: %v", err).
			WithHint("check the statement's quoting and comments")
	}
	return scan.Tokens, nil
}

// commentsIn returns the magic comments among the tokens of sql.
func commentsIn(sql string, tokens []*pg.ScanToken) []comment {
	var out []comment
	for _, t := range tokens {
		block := t.Token == pg.Token_C_COMMENT
		if !block && t.Token != pg.Token_SQL_COMMENT {
			continue
		}
		start, end := int(t.Start), int(t.End)
		if body, ok := magicBody(sql[start:end], block); ok {
			out = append(out, comment{start: start, line: lineAt(sql, start), block: block, body: body})
		}
	}
	return out
}

// magicOffsets returns the start offsets of the magic comments in sql, or
// nil when sql cannot be scanned.
func magicOffsets(sql string) []int {
	cs, err := magicComments(sql)
	if err != nil {
		return nil
	}
	offs := make([]int, len(cs))
	for i, c := range cs {
		offs[i] = c.start
	}
	return offs
}

// hasMagicIn reports whether raw is a CREATE TABLE whose text holds one of
// the magic comment offsets.
func hasMagicIn(raw *pg.RawStmt, offsets []int) bool {
	if raw.Stmt.GetCreateStmt() == nil {
		return false
	}
	from := int(raw.StmtLocation)
	for _, off := range offsets {
		if off >= from && (raw.StmtLen == 0 || off < from+int(raw.StmtLen)) {
			return true
		}
	}
	return false
}

// magicBody returns what follows "spiral:" in a comment token's text and
// whether the comment is magic at all.
func magicBody(text string, block bool) (string, bool) {
	if block {
		text = strings.TrimSuffix(strings.TrimPrefix(text, "/*"), "*/")
	} else {
		text = strings.TrimLeft(text, "-")
	}
	text = strings.TrimLeft(text, spaceChars)
	if len(text) < len("spiral") || !strings.EqualFold(text[:len("spiral")], "spiral") {
		return "", false
	}
	rest := strings.TrimLeft(text[len("spiral"):], spaceChars)
	if !strings.HasPrefix(rest, ":") {
		return "", false
	}
	return rest[1:], true
}

// lineAt returns the 1-based line number of byte offset off in s.
func lineAt(s string, off int) int {
	return 1 + strings.Count(s[:off], "\n")
}

// parseKinds parses the body of a magic comment on line: a comma-separated
// list of kinds, in any letter case, deduplicated into rollup.Kinds order.
func parseKinds(body string, line int) ([]rollup.Kind, error) {
	seen := map[rollup.Kind]bool{}
	for _, item := range strings.Split(body, ",") {
		k := rollup.Kind(strings.ToLower(strings.Trim(item, spaceChars)))
		if k == "" {
			return nil, pgerr.New(pgerr.SyntaxError, "empty kind in magic comment on line %d", line).
				WithHint("write -- Spiral: kind[, kind...] with kinds from: %s", kindList())
		}
		if !isKind(k) {
			return nil, pgerr.New(pgerr.SyntaxError, "unknown kind %q in magic comment on line %d", string(k), line).
				WithHint("valid kinds: %s", kindList())
		}
		seen[k] = true
	}
	var kinds []rollup.Kind
	for _, k := range rollup.Kinds {
		if seen[k] {
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

// isKind reports whether k is one of rollup.Kinds.
func isKind(k rollup.Kind) bool {
	for _, v := range rollup.Kinds {
		if v == k {
			return true
		}
	}
	return false
}

// columnKinds attaches the magic comments of sql, a spiral CREATE TABLE
// scanned into tokens, to
// the columns declared on the same lines and returns the kinds by column
// name.
func columnKinds(sql string, tokens []*pg.ScanToken, cs *pg.CreateStmt, cols []colInfo) (map[string][]rollup.Kind, error) {
	comments := commentsIn(sql, tokens)
	open, closing := columnListSpan(tokens, int(cs.Relation.GetLocation()))
	kinds := map[string][]rollup.Kind{}
	for _, c := range comments {
		col, err := commentColumn(sql, c, open, closing, cols)
		if err != nil {
			return nil, err
		}
		if kinds[col], err = parseKinds(c.body, c.line); err != nil {
			return nil, err
		}
	}
	return kinds, nil
}

// commentColumn returns the name of the one column declared on c's line.
func commentColumn(sql string, c comment, open, closing int, cols []colInfo) (string, error) {
	const hint = "end the line that declares a column with -- Spiral: kind[, kind...]"
	if c.block {
		return "", pgerr.New(pgerr.SyntaxError, "magic comment on line %d must be a -- comment, not /* */", c.line).WithHint(hint)
	}
	if c.start < open || c.start > closing {
		return "", pgerr.New(pgerr.SyntaxError, "magic comment on line %d is outside the column list", c.line).WithHint(hint)
	}
	var names []string
	for _, col := range cols {
		if lineAt(sql, col.location) == c.line {
			names = append(names, col.name)
		}
	}
	switch len(names) {
	case 0:
		return "", pgerr.New(pgerr.SyntaxError, "magic comment on line %d has no column definition on its line", c.line).WithHint(hint)
	case 1:
		return names[0], nil
	}
	return "", pgerr.New(pgerr.SyntaxError, "magic comment on line %d follows several column definitions (%s)", c.line, strings.Join(names, ", ")).
		WithHint("declare each tracked column on its own line")
}

// columnListSpan returns the byte offsets of the parentheses around the
// column list of a CREATE TABLE whose table name starts at nameAt: the first
// "(" after the name and its matching ")". It returns (0, -1) when there is
// no such list.
func columnListSpan(tokens []*pg.ScanToken, nameAt int) (open, closing int) {
	depth := 0
	for _, t := range tokens {
		if int(t.Start) <= nameAt {
			continue
		}
		switch t.Token {
		case pg.Token_ASCII_40:
			if depth == 0 {
				open = int(t.Start)
			}
			depth++
		case pg.Token_ASCII_41:
			if depth--; depth == 0 {
				return open, int(t.Start)
			}
		}
	}
	return 0, -1
}

// errMagicWithoutOptions is the error for magic comments on a CREATE TABLE
// that has no spiral options.
func errMagicWithoutOptions(sql string) error {
	line := 0
	if cs, err := magicComments(sql); err == nil && len(cs) > 0 {
		line = cs[0].line
	}
	return pgerr.New(pgerr.SyntaxError, "magic comment on line %d, but the table has no spiral options", line).
		WithHint("add WITH (spiral.frames = '1m,1h,1d') to track the table, or remove the -- Spiral: comment")
}
