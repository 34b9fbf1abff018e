package changelog

import (
	"fmt"
	"strings"
)

// quoteIdent double-quotes an identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func qualified(schema, name string) string {
	if schema == "" {
		return quoteIdent(name)
	}
	return quoteIdent(schema) + "." + quoteIdent(name)
}

// TriggerDDL returns the statements that make writes to the base table mark
// their (tenant, finest bucket) pairs dirty: statement-level triggers with
// transition tables for INSERT (which COPY and MERGE fire too), UPDATE (old
// and new rows both count) and DELETE, and a TRUNCATE trigger that empties
// the tiers. The base must be registered (RegisterSQL) after these
// statements, in the same transaction: the triggers start on the generic
// spiral.mark_dirty(), and registering points them at a function generated
// for the table (spiral.mark_dirty_<oid>, static SQL), which every later
// change of the table's tiers in spiral.metadata regenerates.
func TriggerDDL(schema, name string) []string {
	t := qualified(schema, name)
	return []string{
		fmt.Sprintf(`CREATE TRIGGER spiral_mark_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS spiral_new FOR EACH STATEMENT EXECUTE FUNCTION spiral.mark_dirty()`, t),
		fmt.Sprintf(`CREATE TRIGGER spiral_mark_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS spiral_old NEW TABLE AS spiral_new FOR EACH STATEMENT EXECUTE FUNCTION spiral.mark_dirty()`, t),
		fmt.Sprintf(`CREATE TRIGGER spiral_mark_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS spiral_old FOR EACH STATEMENT EXECUTE FUNCTION spiral.mark_dirty()`, t),
		fmt.Sprintf(`CREATE TRIGGER spiral_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION spiral.on_truncate()`, t),
	}
}
