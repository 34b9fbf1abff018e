package engine

import (
	"github.com/jackc/pgx/v5/pgproto3"

	"spiral/rewrite"
)

// finishColumns finishes a statement's sketch columns in the proxy: it is
// the proxy.Columns of a rewrite.Finish.
type finishColumns struct{ f *rewrite.Finish }

// Describe gives the finished columns their types; names were set in SQL.
func (c finishColumns) Describe(fields []pgproto3.FieldDescription) {
	for _, col := range c.f.Columns {
		if col.Index < len(fields) {
			fields[col.Index].DataTypeOID, fields[col.Index].DataTypeSize = col.Type()
			fields[col.Index].TypeModifier = -1
		}
	}
}

// Row replaces each finished column's packed states with its value, in the
// format the client asked for.
func (c finishColumns) Row(values [][]byte, format func(int) int16) error {
	for _, col := range c.f.Columns {
		if col.Index >= len(values) || values[col.Index] == nil {
			continue
		}
		v, err := col.Finish(values[col.Index])
		if err != nil {
			return err
		}
		if format(col.Index) == 1 {
			values[col.Index] = v.AppendBinary(nil)
		} else {
			values[col.Index] = v.AppendText(nil)
		}
	}
	return nil
}
