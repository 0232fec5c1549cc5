package sqlserver

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/capture"
)

// Origin marks: apply/sqlserver tags every row change it writes WITH
// CHANGE_TRACKING_CONTEXT holding its worker's origin
// (capture.SyncdOrigin), and CHANGETABLE returns it as
// SYS_CHANGE_CONTEXT. A version, one committed transaction, whose changes
// all carry one syncd origin is passed as a transaction with that
// Txn.Origin: the router does not publish it to the scopes whose targets
// are the database it came from, and apply workers skip it (see
// capture/origin.go), as for PostgreSQL's replication origins and
// apply/mysql's scope_info-first mark.
//
// Change tracking keeps net changes: a row changed by another writer and
// then by syncd between two polls is seen once, with syncd's context, at
// syncd's version, and is not sent back; that is the value the row's
// origin already holds. A version whose changes carry different
// contexts (another application tagging some of its statements with a
// syncd origin) is passed unmarked, to every scope: an echo at worst,
// never a loss.
//
// Changes whose context is Config.SkipContext are dropped by decode, for
// every scope.

// contextOrigin returns the origin a change's context names if syncd
// wrote it (capture.ParseOrigin), else "".
func contextOrigin(context []byte) string {
	if len(context) == 0 {
		return ""
	}
	if _, _, _, ok := capture.ParseOrigin(string(context)); !ok {
		return ""
	}
	return string(context)
}

// versionOrigin returns the origin of the changes of version v at the
// start of changes: theirs if they all have the same one, else "".
func versionOrigin(changes []versioned, v int64) string {
	origin := changes[0].origin
	for _, c := range changes {
		if c.v != v {
			break
		}
		if c.origin != origin {
			return ""
		}
	}
	return origin
}

// maxContext is the size of a change tracking context, varbinary(128).
const maxContext = 128

// ContextClause returns the prefix with which apply/sqlserver's worker
// of origin (capture.SyncdOrigin) tags each INSERT, UPDATE and DELETE it
// sends: "WITH CHANGE_TRACKING_CONTEXT (0x…)\n", the origin's bytes as a
// binary constant; "" for no origin. An origin longer than a context
// holds is an error: cut, it would name another worker or none.
//
// The context is a constant, not a parameter: it is syncd's own name,
// hex-encoded (nothing from it reaches the SQL as text), the same for
// every statement of a worker, and it leaves a statement all its
// parameters. Microsoft: "context is varbinary(128). The value can be a
// constant or a variable, but cannot be NULL"
// (https://learn.microsoft.com/sql/relational-databases/system-functions/with-change-tracking-context-transact-sql).
func ContextClause(origin string) (string, error) {
	if origin == "" {
		return "", nil
	}
	if len(origin) > maxContext {
		return "", fmt.Errorf("origin %q is %d bytes, more than the %d of a change tracking context: use shorter source, scope or target names", origin, len(origin), maxContext)
	}
	return "WITH CHANGE_TRACKING_CONTEXT (0x" + strings.ToUpper(hex.EncodeToString([]byte(origin))) + ")\n", nil
}
