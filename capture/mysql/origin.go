package mysql

import (
	"fmt"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/syncd-dev/syncd/capture"
)

// Origin marks: apply/mysql makes the first row change of each
// transaction it applies an upsert of its scope's row in the target's
// scope_info table (columns scope, source first). A transaction whose
// first row change is to one of Config.OriginTables is one syncd applied,
// from the scope_info row's source.

// originTable records whether the table id of a table map event is one of
// Config.OriginTables.
func (ss *session) originTable(tableID uint64, id capture.TableID) {
	target, ok := ss.src.cfg.OriginTables[id]
	if !ok {
		delete(ss.origins, tableID)
		return
	}
	if ss.origins == nil {
		ss.origins = map[uint64]string{}
	}
	ss.origins[tableID] = target
}

// originMark reads the origin of the open transaction from e, if e is its
// first row change and one to an origin table. Every row change goes
// through it, published or not.
func (ss *session) originMark(e *replication.RowsEvent) {
	t := ss.txn
	if t == nil || t.rowsSeen {
		return
	}
	t.rowsSeen = true
	target, ok := ss.origins[e.TableID]
	if !ok || len(e.Rows) == 0 || len(e.Rows[0]) < 2 {
		return
	}
	row := e.Rows[len(e.Rows)-1] // an update's rows are before and after images
	scope, source := text(row[0]), text(row[1])
	if scope == "" || source == "" {
		return
	}
	t.origin = capture.SyncdOrigin(source, scope, target)
}

// text returns a VARCHAR value of a rows event as a string.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
