package rewrite

import (
	"bytes"
	"errors"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"spiral/internal/pgerr"
	"spiral/rollup"
)

// The spiral.* table options, without their namespace.
const (
	optFrames     = "frames"
	optTenant     = "tenant"
	optTimeZone   = "timezone"
	optTimeColumn = "time_column"
	optApprox     = "approximate_percentiles"
)

// optionNames lists the valid options in the order hints show them.
var optionNames = []string{optFrames, optTenant, optTimeZone, optTimeColumn, optApprox}

// spec is the parsed values of the spiral options; absent options are zero.
type spec struct {
	frames     []rollup.Frame
	tenant     []string
	timeZone   string
	timeColumn string
	approx     bool
}

// colInfo is one column definition of a CREATE TABLE.
type colInfo struct {
	name     string
	typ      string // canonical type name, see canonicalType
	notNull  bool
	location int // byte offset of the column name
}

// parseCreate parses the only statement of tree, a CREATE TABLE with spiral
// options, into a CreateTracked.
func parseCreate(sql string, tree *pg.ParseResult) (*CreateTracked, error) {
	cs := tree.Stmts[0].Stmt.GetCreateStmt()
	tokens, err := scanTokens(sql)
	if err != nil {
		return nil, err
	}
	table, err := createTable(sql, tokens, cs)
	if err != nil {
		return nil, err
	}
	base, err := baseSQL(sql, tokens, tree)
	if err != nil {
		return nil, err
	}
	return &CreateTracked{Table: table, BaseSQL: base, IfNotExists: cs.IfNotExists}, nil
}

// createTable builds and validates the table spec of cs, whose text sql
// was scanned into tokens.
func createTable(sql string, tokens []*pg.ScanToken, cs *pg.CreateStmt) (rollup.Table, error) {
	sp, err := createSpec(cs)
	if err != nil {
		return rollup.Table{}, err
	}
	cols, err := columns(cs.TableElts)
	if err != nil {
		return rollup.Table{}, err
	}
	table, err := buildTable(cs.Relation, sp, cols)
	if err != nil {
		return table, err
	}
	if table.Columns, err = trackedColumns(sql, tokens, cs, cols); err != nil {
		return table, err
	}
	if table.ApproximatePercentiles && !keepsSketches(&table) {
		return table, errNoSketches()
	}
	return table, validate(&table)
}

// ParseApproximate checks a value of spiral.approximate_percentiles for t.
func ParseApproximate(t *rollup.Table, v string) (bool, error) {
	on, err := parseOnOff(v)
	if err != nil {
		return false, err
	}
	if on && !keepsSketches(t) {
		return false, errNoSketches()
	}
	return on, nil
}

func parseOnOff(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true":
		return true, nil
	case "off", "false":
		return false, nil
	}
	return false, optionError(optApprox, v, errors.New("not a Boolean"), "write 'on' or 'off'")
}

func errNoSketches() *pgerr.Error {
	return pgerr.New(pgerr.InvalidParameterValue, "spiral.approximate_percentiles = 'on' needs a column that keeps sketch or tdigest states").
		WithHint("add -- Spiral: tdigest (or sketch) to the columns whose percentiles you query")
}

// keepsSketches reports whether a column of t keeps sketch or t-digest
// states.
func keepsSketches(t *rollup.Table) bool {
	for i := range t.Columns {
		if hasKind(&t.Columns[i], rollup.KindSketch) || hasKind(&t.Columns[i], rollup.KindTDigest) {
			return true
		}
	}
	return false
}

// createSpec checks the form of cs and parses its spiral options, of which
// spiral.frames is required.
func createSpec(cs *pg.CreateStmt) (spec, error) {
	if err := checkCreateForm(cs); err != nil {
		return spec{}, err
	}
	opts, err := spiralOptions(cs.Options)
	if err != nil {
		return spec{}, err
	}
	if _, ok := opts[optFrames]; !ok {
		return spec{}, pgerr.New(pgerr.InvalidParameterValue, "spiral.frames is required").
			WithHint("add spiral.frames = '1m,1h,1d' (the tier widths, smallest first) to the WITH list")
	}
	return parseSpec(opts)
}

// checkCreateForm refuses the CREATE TABLE forms a tracked table cannot take.
func checkCreateForm(cs *pg.CreateStmt) error {
	var what string
	switch {
	case cs.Relation.GetRelpersistence() == "t":
		what = "temporary tables"
	case cs.Relation.GetRelpersistence() == "u":
		what = "unlogged tables"
	case cs.Relation.GetCatalogname() != "":
		what = "database-qualified table names"
	case cs.Partbound != nil:
		what = "PARTITION OF"
	case len(cs.InhRelations) > 0:
		what = "INHERITS"
	case cs.Partspec != nil:
		what = "PARTITION BY"
	case cs.OfTypename != nil:
		what = "OF type"
	}
	if what == "" {
		return nil
	}
	return pgerr.New(pgerr.FeatureNotSupported, "%s cannot be tracked by spiral", what).
		WithHint("create a plain permanent table with an explicit column list; only its columns may carry constraints")
}

// hasSpiralOption reports whether opts holds a spiral.* option.
func hasSpiralOption(opts []*pg.Node) bool {
	for _, o := range opts {
		if o.GetDefElem().GetDefnamespace() == "spiral" {
			return true
		}
	}
	return false
}

// spiralOptions returns the spiral.* options of a WITH or SET list by name,
// checking that each is known, given once and has a string value.
func spiralOptions(opts []*pg.Node) (map[string]string, error) {
	out := map[string]string{}
	for _, o := range opts {
		d := o.GetDefElem()
		if d.GetDefnamespace() != "spiral" {
			continue
		}
		if !isOptionName(d.Defname) {
			return nil, pgerr.New(pgerr.InvalidParameterValue, "unrecognized option spiral.%s", d.Defname).
				WithHint("valid options: %s", optionList())
		}
		if _, dup := out[d.Defname]; dup {
			return nil, pgerr.New(pgerr.InvalidParameterValue, "option spiral.%s is given more than once", d.Defname).
				WithHint("give each spiral option once")
		}
		s := d.GetArg().GetString_()
		if s == nil {
			return nil, pgerr.New(pgerr.InvalidParameterValue, "option spiral.%s needs a quoted string value", d.Defname).
				WithHint("write spiral.%s = '...'", d.Defname)
		}
		out[d.Defname] = s.Sval
	}
	return out, nil
}

// isOptionName reports whether name is a valid spiral option name.
func isOptionName(name string) bool {
	for _, n := range optionNames {
		if n == name {
			return true
		}
	}
	return false
}

// optionList is the valid options, for hints.
func optionList() string {
	return "spiral." + strings.Join(optionNames, ", spiral.")
}

// parseSpec parses the option values that need no table to check.
func parseSpec(opts map[string]string) (spec, error) {
	var sp spec
	var err error
	if v, ok := opts[optFrames]; ok {
		if sp.frames, err = rollup.ParseFrames(v); err != nil {
			return sp, optionError(optFrames, v, err, "list tier widths smallest first, e.g. '1m,1h,1d,1mon'")
		}
	}
	if v, ok := opts[optTenant]; ok {
		if sp.tenant, err = ParseIdentList(v); err != nil {
			return sp, optionError(optTenant, v, err, `list the scope columns separated by commas, e.g. 'symbol_id' or 'region, "Sensor ID"'`)
		}
	}
	if v, ok := opts[optTimeColumn]; ok {
		if sp.timeColumn, err = oneIdent(v); err != nil {
			return sp, optionError(optTimeColumn, v, err, "name one timestamptz NOT NULL column, e.g. 't'")
		}
	}
	if v, ok := opts[optApprox]; ok {
		if sp.approx, err = parseOnOff(v); err != nil {
			return sp, err
		}
	}
	sp.timeZone = "UTC"
	if v, ok := opts[optTimeZone]; ok {
		if sp.timeZone = strings.TrimSpace(v); sp.timeZone == "" {
			return sp, optionError(optTimeZone, v, errEmpty, "name an IANA time zone, e.g. 'UTC' or 'Europe/Berlin'")
		}
	}
	return sp, nil
}

// errEmpty is the cause for an empty option value.
var errEmpty = errors.New("empty value")

// oneIdent parses s as exactly one identifier.
func oneIdent(s string) (string, error) {
	ids, err := splitIdents(s, 0)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// optionError is the 22023 error for a bad value of spiral.name. A cause
// that is already a *pgerr.Error (from rollup.ParseFrames) names the
// option itself and is returned as it is.
func optionError(name, value string, cause error, hint string) error {
	if c := pgerr.As(cause); c != nil {
		return c
	}
	return pgerr.New(pgerr.InvalidParameterValue, "invalid value %q for spiral.%s: %v", value, name, cause).
		WithHint("%s", hint)
}

// columns returns the column definitions of a CREATE TABLE, refusing table
// constraints, LIKE and repeated names.
func columns(elts []*pg.Node) ([]colInfo, error) {
	var cols []colInfo
	seen := map[string]bool{}
	for _, e := range elts {
		def := e.GetColumnDef()
		if def == nil {
			return nil, errTableElement(e)
		}
		if seen[def.Colname] {
			// PostgreSQL says 42701 duplicate_column; pgerr's nearest is 42710.
			return nil, pgerr.New(pgerr.DuplicateObject, "column %q specified more than once", def.Colname).
				WithHint("give each column a distinct name")
		}
		seen[def.Colname] = true
		cols = append(cols, colInfo{name: def.Colname, typ: canonicalType(def.TypeName),
			notNull: isNotNull(def), location: int(def.Location)})
	}
	return cols, nil
}

// errTableElement is the error for a table element other than a column.
func errTableElement(e *pg.Node) error {
	what := "this table element"
	switch {
	case e.GetConstraint() != nil:
		what = "table constraints"
	case e.GetTableLikeClause() != nil:
		what = "LIKE"
	}
	return pgerr.New(pgerr.FeatureNotSupported, "%s cannot be used in a spiral CREATE TABLE", what).
		WithHint("declare constraints on the columns themselves, or add them afterwards with ALTER TABLE")
}

// isNotNull reports whether a column definition forbids NULL.
func isNotNull(def *pg.ColumnDef) bool {
	if def.IsNotNull {
		return true
	}
	for _, c := range def.Constraints {
		switch c.GetConstraint().GetContype() {
		case pg.ConstrType_CONSTR_NOTNULL, pg.ConstrType_CONSTR_PRIMARY:
			return true
		}
	}
	return false
}

// typeAliases maps type names, as the parser leaves them, to canonical
// names. Names missing here are kept as they are.
var typeAliases = map[string]string{
	"int": "int4", "integer": "int4", "serial": "int4", "serial4": "int4",
	"smallint": "int2", "smallserial": "int2", "serial2": "int2",
	"bigint": "int8", "bigserial": "int8", "serial8": "int8",
	"real": "float4", "float": "float8", "double precision": "float8",
	"decimal": "numeric", "boolean": "bool",
	"varchar": "text", "character varying": "text",
	"timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp",
}

// canonicalType returns the canonical name of a column type: int4, int8,
// float8, numeric (typmods dropped), timestamptz, text (also for varchar),
// ...; "[]" is appended for arrays; other schemas' types stay qualified.
func canonicalType(tn *pg.TypeName) string {
	names := stringList(tn.GetNames())
	if len(names) == 2 && names[0] == "pg_catalog" {
		names = names[1:]
	}
	name := strings.Join(names, ".")
	if alias, ok := typeAliases[name]; ok {
		name = alias
	}
	if len(tn.GetArrayBounds()) > 0 {
		name += "[]"
	}
	return name
}

// buildTable assembles the table spec from the name, options and columns,
// checking the time and scope columns.
func buildTable(rel *pg.RangeVar, sp spec, cols []colInfo) (rollup.Table, error) {
	t := rollup.Table{Schema: rel.GetSchemaname(), Name: rel.GetRelname(), TimeZone: sp.timeZone, Frames: sp.frames,
		ApproximatePercentiles: sp.approx}
	tc, err := timeColumn(sp.timeColumn, cols)
	if err != nil {
		return t, err
	}
	t.TimeColumn = tc.name
	for _, name := range sp.tenant {
		c, err := scopeColumn(name, t, cols)
		if err != nil {
			return t, err
		}
		t.ScopeColumns = append(t.ScopeColumns, c.name)
		t.ScopeTypes = append(t.ScopeTypes, c.typ)
	}
	return t, nil
}

// findColumn returns the column called name.
func findColumn(name string, cols []colInfo) (colInfo, bool) {
	for _, c := range cols {
		if c.name == name {
			return c, true
		}
	}
	return colInfo{}, false
}

// columnNames lists the names of cols, for hints.
func columnNames(cols []colInfo) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// timeColumn resolves the time column: the one named by spiral.time_column,
// else the only timestamptz column. It must be timestamptz NOT NULL.
func timeColumn(name string, cols []colInfo) (colInfo, error) {
	c, err := pickTimeColumn(name, cols)
	if err != nil {
		return c, err
	}
	if c.typ != "timestamptz" {
		return c, pgerr.New(pgerr.InvalidParameterValue, "time column %q has type %s, not timestamptz", c.name, c.typ).
			WithHint("declare it as %s timestamptz NOT NULL", quoteIdent(c.name))
	}
	if !c.notNull {
		return c, pgerr.New(pgerr.InvalidParameterValue, "time column %q must be NOT NULL: tiers cannot account for rows without a time", c.name).
			WithHint("declare it as %s timestamptz NOT NULL", quoteIdent(c.name))
	}
	return c, nil
}

// pickTimeColumn finds the time column without checking it.
func pickTimeColumn(name string, cols []colInfo) (colInfo, error) {
	if name != "" {
		c, ok := findColumn(name, cols)
		if !ok {
			return c, pgerr.New(pgerr.UndefinedColumn, "column %q named by spiral.time_column does not exist", name).
				WithHint("columns: %s", columnNames(cols))
		}
		return c, nil
	}
	var found []colInfo
	for _, c := range cols {
		if c.typ == "timestamptz" {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return colInfo{}, pgerr.New(pgerr.InvalidParameterValue, "a tracked table needs a timestamptz column").
			WithHint("add a column such as t timestamptz NOT NULL, or name one with spiral.time_column")
	case 1:
		return found[0], nil
	}
	return colInfo{}, pgerr.New(pgerr.InvalidParameterValue, "several timestamptz columns (%s); spiral cannot tell which one is the time column", columnNames(found)).
		WithHint("name it with spiral.time_column = '%s'", found[0].name)
}

// scopeColumn checks one spiral.tenant column of t.
func scopeColumn(name string, t rollup.Table, cols []colInfo) (colInfo, error) {
	c, ok := findColumn(name, cols)
	switch {
	case !ok:
		return c, pgerr.New(pgerr.UndefinedColumn, "column %q named by spiral.tenant does not exist", name).
			WithHint("columns: %s", columnNames(cols))
	case name == t.TimeColumn:
		return c, pgerr.New(pgerr.InvalidParameterValue, "the time column %q cannot be a spiral.tenant column", name).
			WithHint("list only the columns that identify a tenant, e.g. 'symbol_id'")
	case contains(t.ScopeColumns, name):
		return c, pgerr.New(pgerr.InvalidParameterValue, "column %q appears more than once in spiral.tenant", name).
			WithHint("list each scope column once")
	}
	return c, nil
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// trackedColumns returns the columns that carry magic comments, in table
// order.
func trackedColumns(sql string, tokens []*pg.ScanToken, cs *pg.CreateStmt, cols []colInfo) ([]rollup.Column, error) {
	kinds, err := columnKinds(sql, tokens, cs, cols)
	if err != nil {
		return nil, err
	}
	var out []rollup.Column
	for _, c := range cols {
		if k, ok := kinds[c.name]; ok {
			out = append(out, rollup.Column{Name: c.name, Type: c.typ, Kinds: k})
		}
	}
	return out, nil
}

// validate runs the table's own checks; an error without a SQLSTATE is a bad
// option value.
func validate(t *rollup.Table) error {
	err := t.Validate()
	if err == nil || pgerr.As(err) != nil {
		return err
	}
	return pgerr.New(pgerr.InvalidParameterValue, "invalid spiral table %s: %v", t.Name, err)
}

// baseSQL returns the statement of tree without its spiral options and
// without comments. It deparses the statement and, where pg_query's
// deparser does not reproduce it (it drops the parentheses of
// `(x AT TIME ZONE 'UTC')::date`, for one), cuts the options out of the
// original text instead. Either way the result must parse back to the same
// tree; if neither does, the statement is refused.
func baseSQL(sql string, tokens []*pg.ScanToken, tree *pg.ParseResult) (string, error) {
	want := withoutSpiralOptions(tree)
	if out, err := pg.Deparse(want); err == nil && reproduces(out, want) {
		return out, nil
	}
	if out, ok := spliceBase(sql, tokens, tree); ok && reproduces(out, want) {
		return out, nil
	}
	return "", pgerr.New(pgerr.FeatureNotSupported, "spiral cannot reproduce this CREATE TABLE without its spiral options").
		WithHint("simplify the column definitions (defaults, generated columns, constraints) and add the rest with ALTER TABLE afterwards")
}

// withoutSpiralOptions returns a copy of tree, a single CREATE TABLE,
// without its spiral options and with locations cleared.
func withoutSpiralOptions(tree *pg.ParseResult) *pg.ParseResult {
	clone := proto.Clone(tree).(*pg.ParseResult)
	cs := clone.Stmts[0].Stmt.GetCreateStmt()
	var kept []*pg.Node
	for _, o := range cs.Options {
		if o.GetDefElem().GetDefnamespace() != "spiral" {
			kept = append(kept, o)
		}
	}
	cs.Options = kept
	stripLocations(clone.ProtoReflect())
	return clone
}

// reproduces reports whether sql parses to want, a tree without locations.
func reproduces(sql string, want *pg.ParseResult) bool {
	got, err := pg.Parse(sql)
	if err != nil {
		return false
	}
	stripLocations(got.ProtoReflect())
	return proto.Equal(got, want)
}

// stripLocations clears every location field in m and below, so that trees
// parsed from differently written text compare equal.
func stripLocations(m protoreflect.Message) {
	var clear []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch name := fd.Name(); {
		case name == "location" || name == "stmt_location" || name == "stmt_len":
			clear = append(clear, fd)
		case fd.Message() == nil || fd.IsMap():
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				stripLocations(v.List().Get(i).Message())
			}
		default:
			stripLocations(v.Message())
		}
		return true
	})
	for _, fd := range clear {
		m.Clear(fd)
	}
}

// spliceBase returns the text of the CREATE TABLE in sql with its comments
// blanked and its spiral options cut out of the WITH list (the whole WITH
// clause when no other option is left). ok is false when the option list
// cannot be matched to the parsed options.
func spliceBase(sql string, tokens []*pg.ScanToken, tree *pg.ParseResult) (string, bool) {
	raw := tree.Stmts[0]
	opts := raw.Stmt.GetCreateStmt().Options
	code, text := blankComments(sql, tokens)
	with, items, ok := optionItems(code, int(opts[0].GetDefElem().GetLocation()))
	if !ok || len(items) != len(opts) {
		return "", false
	}
	var kept []string
	for i, o := range opts {
		if o.GetDefElem().GetDefnamespace() != "spiral" {
			kept = append(kept, strings.TrimSpace(text[items[i][0]:items[i][1]]))
		}
	}
	from, to, repl := int(with[1].End), int(with[2].Start), strings.Join(kept, ", ")
	if len(kept) == 0 {
		from, to, repl = int(with[0].Start), int(with[2].End), ""
	}
	end := len(text)
	if raw.StmtLen > 0 {
		end = int(raw.StmtLocation + raw.StmtLen)
	}
	out := dropComments(text[raw.StmtLocation:from] + repl + text[to:end])
	return strings.TrimRight(strings.TrimSpace(out), ";"+spaceChars), true
}

// blankComments returns the tokens that are not comments and sql with the
// bytes of every comment replaced by NUL bytes, which sql cannot otherwise
// hold (Classify passes such text through), so that offsets stay valid. A
// /* */ comment keeps one leading space, as it may separate two tokens.
func blankComments(sql string, tokens []*pg.ScanToken) ([]*pg.ScanToken, string) {
	b := []byte(sql)
	var code []*pg.ScanToken
	for _, t := range tokens {
		if t.Token != pg.Token_SQL_COMMENT && t.Token != pg.Token_C_COMMENT {
			code = append(code, t)
			continue
		}
		for i := t.Start; i < t.End; i++ {
			b[i] = 0
		}
		if t.Token == pg.Token_C_COMMENT {
			b[t.Start] = ' '
		}
	}
	return code, string(b)
}

// dropComments removes the NUL bytes left by blankComments, and the spaces
// before a comment that ended its line.
func dropComments(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != 0 {
			out = append(out, s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == 0 {
			j++
		}
		if j == len(s) || s[j] == '\n' || s[j] == '\r' {
			out = bytes.TrimRight(out, " \t")
		}
		i = j
	}
	return string(out)
}

// optionItems finds the WITH list whose first option starts at byte first:
// with holds its WITH, "(" and ")" tokens, items the byte span of each
// option.
func optionItems(code []*pg.ScanToken, first int) (with [3]*pg.ScanToken, items [][2]int, ok bool) {
	i := 0
	for i < len(code) && int(code[i].Start) != first {
		i++
	}
	if i < 2 || i == len(code) || code[i-1].Token != pg.Token_ASCII_40 || code[i-2].Token != pg.Token_WITH {
		return with, nil, false
	}
	with[0], with[1] = code[i-2], code[i-1]
	depth, start := 1, i
	for j := i; j < len(code); j++ {
		switch code[j].Token {
		case pg.Token_ASCII_40:
			depth++
		case pg.Token_ASCII_44:
			if depth == 1 {
				items = append(items, [2]int{int(code[start].Start), int(code[j-1].End)})
				start = j + 1
			}
		case pg.Token_ASCII_41:
			if depth--; depth == 0 {
				with[2] = code[j]
				items = append(items, [2]int{int(code[start].Start), int(code[j-1].End)})
				return with, items, start < j
			}
		}
	}
	return with, nil, false
}

// parseAlter parses ALTER TABLE name SET (spiral.x = '...', ...).
func parseAlter(a *pg.AlterTableStmt) (*AlterTracked, error) {
	if err := checkAlterForm(a); err != nil {
		return nil, err
	}
	var defs []*pg.Node
	for _, c := range a.Cmds {
		defs = append(defs, c.GetAlterTableCmd().GetDef().GetList().GetItems()...)
	}
	opts, err := spiralOptions(defs)
	if err != nil {
		return nil, err
	}
	if _, err := parseSpec(opts); err != nil {
		return nil, err
	}
	rel := a.Relation
	return &AlterTracked{Schema: rel.GetSchemaname(), Name: rel.GetRelname(), Options: opts}, nil
}

// checkAlterForm accepts only ALTER TABLE name SET (...) commands whose
// options are all spiral options.
func checkAlterForm(a *pg.AlterTableStmt) error {
	const hint = "change spiral options alone: ALTER TABLE name SET (spiral.frames = '...'); other changes go in a separate ALTER TABLE"
	switch {
	case a.Objtype != pg.ObjectType_OBJECT_TABLE:
		return pgerr.New(pgerr.FeatureNotSupported, "spiral options can only be set on tables").WithHint("%s", hint)
	case a.MissingOk:
		return pgerr.New(pgerr.FeatureNotSupported, "ALTER TABLE IF EXISTS is not supported with spiral options").WithHint("%s", hint)
	case a.Relation.GetCatalogname() != "":
		return pgerr.New(pgerr.FeatureNotSupported, "database-qualified table names are not supported").WithHint("%s", hint)
	}
	for _, c := range a.Cmds {
		cmd := c.GetAlterTableCmd()
		if cmd.GetSubtype() != pg.AlterTableType_AT_SetRelOptions {
			return pgerr.New(pgerr.FeatureNotSupported, "spiral options can only be changed with SET (...), not combined with other ALTER TABLE actions or RESET").WithHint("%s", hint)
		}
		for _, d := range cmd.GetDef().GetList().GetItems() {
			if d.GetDefElem().GetDefnamespace() != "spiral" {
				return pgerr.New(pgerr.FeatureNotSupported, "spiral options cannot be mixed with other storage parameters in one SET").WithHint("%s", hint)
			}
		}
	}
	return nil
}

// quoteIdent quotes name for SQL when it is not a plain lower-case
// identifier.
func quoteIdent(name string) string {
	plain := name != ""
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '$')) {
			plain = false
		}
	}
	if plain {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
