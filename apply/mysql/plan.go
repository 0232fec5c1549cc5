package mysql

import (
	"context"
	"errors"

	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/capture"
)

// MissingColumns reports whether the target has table id and which of
// columns it lacks (matched without regard to case, as MySQL does), for
// syncd plan. It only reads the catalog.
func (t *Target) MissingColumns(ctx context.Context, id capture.TableID, columns []string) (exists bool, missing []string, err error) {
	db, err := t.connect(ctx)
	if err != nil {
		return false, nil, err
	}
	ct, err := lookupTable(ctx, db, tableName{db: id.Schema, name: id.Name})
	if errors.Is(err, plan.ErrNoTable) {
		return false, columns, nil
	}
	if err != nil {
		return false, nil, err
	}
	for _, c := range columns {
		if _, ok := ct.column(c); !ok {
			missing = append(missing, c)
		}
	}
	return true, missing, nil
}
