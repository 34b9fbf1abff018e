package rewrite

import (
	"fmt"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v5"

	"spiral/internal/pgerr"
)

// SessionSet is `SET [LOCAL] spiral.x = value` or `RESET spiral.x`: a
// session control the proxy keeps itself. Value is canonical ("on",
// "off", a number); Reset restores the default.
type SessionSet struct {
	Name  string // without the "spiral." prefix
	Value string
	Reset bool
}

// SessionShow is `SHOW spiral.x`.
type SessionShow struct {
	Name string
}

func (*SessionSet) statement()  {}
func (*SessionShow) statement() {}

// SessionDefaults are the session controls and their defaults.
var SessionDefaults = map[string]string{
	"enable_rewrite": "on",
	"max_segments":   strconv.Itoa(DefaultMaxSegments),
	"show_rewrite":   "off",
	// approximate_percentiles: percentile_cont and percentile_disc over
	// tracked tables are answered from sketch tiers (README).
	// on, off, or table: as the table option spiral.approximate_percentiles says.
	"approximate_percentiles": "table",
}

func settingName(full string) (string, error) {
	name := strings.TrimPrefix(strings.ToLower(full), "spiral.")
	if _, ok := SessionDefaults[name]; !ok {
		return "", pgerr.New(pgerr.UndefinedObject, "unrecognized configuration parameter %q", full).
			WithHint("spiral's session settings are spiral.enable_rewrite, spiral.max_segments, spiral.show_rewrite and spiral.approximate_percentiles.")
	}
	return name, nil
}

// isSetting reports whether a configuration parameter name is spiral's.
func isSetting(name string) bool { return strings.HasPrefix(strings.ToLower(name), "spiral.") }

func parseSet(s *pg.VariableSetStmt) (Statement, error) {
	name, err := settingName(s.Name)
	if err != nil {
		return nil, err
	}
	switch s.Kind {
	case pg.VariableSetKind_VAR_RESET, pg.VariableSetKind_VAR_SET_DEFAULT:
		return &SessionSet{Name: name, Value: SessionDefaults[name], Reset: true}, nil
	case pg.VariableSetKind_VAR_SET_VALUE:
	default:
		return nil, pgerr.New(pgerr.FeatureNotSupported, "SET spiral.%s supports only = value, TO DEFAULT and RESET", name)
	}
	if len(s.Args) != 1 {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "SET spiral.%s takes one value", name)
	}
	v, err := settingValue(name, s.Args[0])
	if err != nil {
		return nil, err
	}
	return &SessionSet{Name: name, Value: v}, nil
}

// settingValue validates and canonicalises a value.
func settingValue(name string, n *pg.Node) (string, error) {
	raw, ok := constText(n)
	if !ok {
		return "", pgerr.New(pgerr.InvalidParameterValue, "SET spiral.%s needs a literal value", name)
	}
	if name == "max_segments" {
		v, err := strconv.Atoi(raw)
		if err != nil || v < 1 || v > 100000 {
			return "", pgerr.New(pgerr.InvalidParameterValue, "invalid value for parameter \"spiral.max_segments\": %q", raw).
				WithHint("Use an integer from 1 to 100000.")
		}
		return strconv.Itoa(v), nil
	}
	if name == "approximate_percentiles" && strings.EqualFold(raw, "table") {
		return "table", nil
	}
	switch strings.ToLower(raw) {
	case "on", "true", "yes", "1", "t", "y":
		return "on", nil
	case "off", "false", "no", "0", "f", "n":
		return "off", nil
	}
	return "", pgerr.New(pgerr.InvalidParameterValue, "parameter \"spiral.%s\" requires a Boolean value", name).
		WithHint("Use on or off.")
}

// constText is the text of a string, number or boolean literal.
func constText(n *pg.Node) (string, bool) {
	c, ok := n.Node.(*pg.Node_AConst)
	if !ok || c.AConst.Isnull {
		return "", false
	}
	switch v := c.AConst.Val.(type) {
	case *pg.A_Const_Sval:
		return v.Sval.Sval, true
	case *pg.A_Const_Ival:
		return fmt.Sprint(v.Ival.Ival), true
	case *pg.A_Const_Fval:
		return v.Fval.Fval, true
	case *pg.A_Const_Boolval:
		return strconv.FormatBool(v.Boolval.Boolval), true
	}
	return "", false
}

// ChangesRole reports whether sql may change the session's role (SET
// ROLE, SET SESSION AUTHORIZATION, in any statement of the string). Text
// that mentions neither word is decided without allocating.
func ChangesRole(sql string) bool {
	if !containsFold(sql, "role") && !containsFold(sql, "authorization") {
		return false
	}
	norm := strings.Join(strings.Fields(strings.ToUpper(sql)), " ")
	for _, p := range []string{"SET ROLE", "SET SESSION ROLE", "SET LOCAL ROLE", "SET SESSION AUTHORIZATION",
		"SET LOCAL SESSION AUTHORIZATION", "SET SESSION SESSION AUTHORIZATION"} {
		if strings.HasPrefix(norm, p) || strings.Contains(norm, "; "+p) || strings.Contains(norm, ";"+p) {
			return true
		}
	}
	return false
}
