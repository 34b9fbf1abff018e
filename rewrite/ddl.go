package rewrite

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"

	"spiral/internal/pgerr"
	"spiral/rollup"
)

// The spiral.* table options, without their namespace.
const (
	optFrames     = "frames"
	optTenant     = "tenant"
	optTimeZone   = "timezone"
	optTimeColumn = "time_column"
)

// optionNames lists the valid options in the order hints show them.
var optionNames = []string{optFrames, optTenant, optTimeZone, optTimeColumn}

// spec is the parsed values of the spiral options; absent options are zero.
type spec struct {
	frames     []rollup.Frame
	tenant     []string
	timeZone   string
	timeColumn string
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
	if err := checkCreateForm(cs); err != nil {
		return nil, err
	}
	opts, err := spiralOptions(cs.Options)
	if err != nil {
		return nil, err
	}
	sp, err := parseSpec(opts)
	if err != nil {
		return nil, err
	}
	if sp.frames == nil {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "spiral.frames is required").
			WithHint("add spiral.frames = '1m,1h,1d' (the tier widths, smallest first) to the WITH list")
	}
	cols, err := columns(cs.TableElts)
	if err != nil {
		return nil, err
	}
	table, err := buildTable(cs.Relation, sp, cols)
	if err != nil {
		return nil, err
	}
	if table.Columns, err = trackedColumns(sql, cs, cols); err != nil {
		return nil, err
	}
	if err := validate(&table); err != nil {
		return nil, err
	}
	base, err := baseSQL(tree)
	if err != nil {
		return nil, err
	}
	return &CreateTracked{Table: table, BaseSQL: base, IfNotExists: cs.IfNotExists}, nil
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
	sp.timeZone = "UTC"
	if v, ok := opts[optTimeZone]; ok {
		if sp.timeZone = strings.TrimSpace(v); sp.timeZone == "" {
			return sp, optionError(optTimeZone, v, errEmpty, "name an IANA time zone, e.g. 'UTC' or 'Europe/Berlin'")
		}
	}
	return sp, nil
}

// errEmpty is the cause for an empty option value.
var errEmpty = pgerr.New(pgerr.InvalidParameterValue, "empty value")

// oneIdent parses s as exactly one identifier.
func oneIdent(s string) (string, error) {
	ids, err := splitIdents(s, 0)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// optionError is the 22023 error for a bad value of spiral.name, keeping
// the SQLSTATE and hint of a cause that has them.
func optionError(name, value string, cause error, hint string) error {
	e := pgerr.New(pgerr.InvalidParameterValue, "invalid value %q for spiral.%s: %v", value, name, cause)
	if c := pgerr.As(cause); c != nil {
		e.Code = c.Code
		if c.Hint != "" {
			hint = c.Hint
		}
	}
	return e.WithHint("%s", hint)
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
	t := rollup.Table{Schema: rel.GetSchemaname(), Name: rel.GetRelname(), TimeZone: sp.timeZone, Frames: sp.frames}
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
func trackedColumns(sql string, cs *pg.CreateStmt, cols []colInfo) ([]rollup.Column, error) {
	kinds, err := columnKinds(sql, cs, cols)
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

// baseSQL deparses the only statement of tree without its spiral options.
func baseSQL(tree *pg.ParseResult) (string, error) {
	clone := proto.Clone(tree).(*pg.ParseResult)
	cs := clone.Stmts[0].Stmt.GetCreateStmt()
	kept := cs.Options[:0]
	for _, o := range cs.Options {
		if o.GetDefElem().GetDefnamespace() != "spiral" {
			kept = append(kept, o)
		}
	}
	cs.Options = kept
	clone.Stmts[0].StmtLocation, clone.Stmts[0].StmtLen = 0, 0
	sql, err := pg.Deparse(clone)
	if err != nil {
		return "", pgerr.New(pgerr.InternalError, "deparse base table: %v", err)
	}
	return sql, nil
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
