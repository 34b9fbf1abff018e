package rewrite

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"
)

// ErrNotTracked means the statement names no tracked table: it passes
// through without being parsed.
var ErrNotTracked = &Skip{Reason: "no tracked table named"}

// Query rewrites the aggregate blocks over tracked tables in one SELECT (or
// EXPLAIN of one) into plans over clean tiers and dirty raw ranges. It
// returns the new statement text, or a *Skip saying why the statement must
// run as written; other errors are bugs in the rewriter, and the caller runs
// the statement as written then too (invariant 3). Approximate percentiles
// need QueryFinish.
func Query(sql string, cat *Catalog, set Settings) (string, error) {
	set.Percentiles = PercentilesExact
	out, _, err := QueryFinish(sql, cat, set)
	return out, err
}

// QueryFinish is Query, and also returns the columns the proxy must finish
// (approximate percentiles in the outermost block; nil under EXPLAIN).
func QueryFinish(sql string, cat *Catalog, set Settings) (string, *Finish, error) {
	if !cat.Mentioned(sql) || !utf8.ValidString(sql) || strings.IndexByte(sql, 0) >= 0 {
		return "", nil, ErrNotTracked
	}
	tree, err := pg.Parse(sql)
	if err != nil {
		return "", nil, skipf("does not parse")
	}
	if len(tree.Stmts) != 1 {
		return "", nil, skipf("not one statement")
	}
	root := tree.Stmts[0].Stmt
	if !readOnlySelect(root) {
		return "", nil, skipf("not a SELECT")
	}
	var shown *pg.ParseResult
	if set.ShowRewrite {
		shown = proto.Clone(tree).(*pg.ParseResult)
	}
	n, cols, err := rewriteBlocks(root, cat, set, "")
	if n == 0 {
		return "", nil, err
	}
	var fin *Finish
	if len(cols) > 0 && root.GetExplainStmt() == nil {
		fin = &Finish{Columns: cols}
	}
	out, err := deparse(tree)
	if err != nil || shown == nil {
		return out, fin, err
	}
	if _, _, err := rewriteBlocks(shown.Stmts[0].Stmt, cat, set, "spiral: rewritten to: "+out); err != nil {
		return "", nil, err
	}
	out, err = deparse(shown)
	return out, fin, err
}

// deparse prints a rewritten tree and checks that it parses again.
func deparse(tree *pg.ParseResult) (string, error) {
	out, err := pg.Deparse(tree)
	if err != nil {
		return "", fmt.Errorf("rewrite: deparse: %w", err)
	}
	if _, err := pg.Parse(out); err != nil {
		return "", fmt.Errorf("rewrite: the rewritten statement does not parse: %w", err)
	}
	return out, nil
}

// readOnlySelect accepts SELECT and EXPLAIN [ANALYZE] SELECT.
func readOnlySelect(n *pg.Node) bool {
	switch x := n.Node.(type) {
	case *pg.Node_SelectStmt:
		return x.SelectStmt.IntoClause == nil
	case *pg.Node_ExplainStmt:
		return x.ExplainStmt.Query != nil && readOnlySelect(x.ExplainStmt.Query)
	}
	return false
}

// rewriteBlocks rewrites every block of root it can, in place, and returns
// how many it rewrote, the outermost block's finished columns and, when it
// rewrote none, why.
func rewriteBlocks(root *pg.Node, cat *Catalog, set Settings, notice string) (int, []FinishColumn, error) {
	ctes := map[string]bool{}
	var blocks []*pg.SelectStmt
	visitNodes(root, func(n *pg.Node) bool {
		switch x := n.Node.(type) {
		case *pg.Node_CommonTableExpr:
			ctes[x.CommonTableExpr.Ctename] = true
		case *pg.Node_SelectStmt:
			blocks = append(blocks, x.SelectStmt)
		}
		return true
	})
	done := 0
	var why error
	var finish []FinishColumn
	for i, s := range blocks {
		out, cols, err := rewriteBlock(s, cat, ctes, set, notice, i == 0)
		if err != nil {
			if why == nil || !IsSkip(err) {
				why = err
			}
			continue
		}
		proto.Reset(s)
		proto.Merge(s, out)
		done++
		notice = ""
		finish = cols
	}
	if why == nil {
		why = skipf("no aggregate over a tracked table")
	}
	if done > 0 {
		why = nil
	}
	return done, finish, why
}

// IsSkip reports whether err says why a statement runs as written, as
// opposed to a failure of the rewriter itself.
func IsSkip(err error) bool {
	var s *Skip
	return errors.As(err, &s)
}

// rewriteBlock returns the rewritten form of one block and the columns the
// proxy must finish; s is not changed. Only the outermost block may have
// such columns.
func rewriteBlock(s *pg.SelectStmt, cat *Catalog, ctes map[string]bool, set Settings, notice string, outermost bool) (*pg.SelectStmt, []FinishColumn, error) {
	if len(s.FromClause) != 1 {
		return nil, nil, skipf("not one FROM item")
	}
	b, err := analyze(proto.Clone(s).(*pg.SelectStmt), cat, ctes, set.Percentiles)
	if err != nil {
		return nil, nil, err
	}
	if len(b.finish) > 0 && !outermost {
		return nil, nil, skipf("an approximate percentile below the outermost SELECT")
	}
	c := b.chooseChain(set.TimeZone)
	if len(c.tiers) == 0 {
		return nil, nil, skipf("no tier's buckets fit the query's in time zone %s", set.TimeZone)
	}
	out, err := b.render(c, set, notice)
	return out, b.finish, err
}
