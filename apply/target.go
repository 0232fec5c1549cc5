package apply

import (
	"errors"

	"github.com/hashicorp/go-hclog"
)

// TargetOptions are the optional dependencies of an engine's Target (the
// Options of apply/postgres, apply/mysql and apply/sqlserver).
type TargetOptions struct {
	Logger hclog.Logger // nil: no logs
}

// Log returns o.Logger named name, or a logger that discards if o has
// none.
func (o TargetOptions) Log(name string) hclog.Logger {
	if o.Logger == nil {
		return hclog.NewNullLogger()
	}
	return o.Logger.Named(name)
}

// DefaultScopeInfoTable is the scope_info table's name when a target's
// config sets none.
const DefaultScopeInfoTable = "syncd_scope_info"

// ErrTxDone is returned by the methods of a Tx that has committed, rolled
// back or failed.
var ErrTxDone = errors.New("transaction already ended")
