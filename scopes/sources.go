package scopes

import (
	"math"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// pgNamePattern is what PostgreSQL slot and publication names must match
// (slot names allow nothing else; publications follow for symmetry).
var pgNamePattern = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// signalTablePattern is what a MySQL source's signal_table must match:
// a table, or database.table, that needs no quoting in messages.
var signalTablePattern = regexp.MustCompile(`^([A-Za-z0-9_$]{1,64}\.)?[A-Za-z0-9_$]{1,64}$`)

// engineKinds are the source and target kinds syncd runs.
var engineKinds = []string{KindMySQL, KindPostgres, KindSQLServer}

// decodeSource decodes a source block; nil if its kind is unknown or its
// name taken.
func (l *loader) decodeSource(b *hcl.Block) *Source {
	kind, name := b.Labels[0], b.Labels[1]
	unique := l.declare("source", b)
	schema := sourceSchema(kind)
	if schema == nil {
		l.errorf(b.LabelRanges[0], "Unknown source kind",
			"The source kind %q is not supported; use %s.", kind, quotedList(engineKinds, "or"))
		return nil
	}
	content, diags := b.Body.Content(schema)
	l.diags = append(l.diags, diags...)
	attrs := content.Attributes
	s := &Source{Kind: kind, Name: name, DeclRange: b.DefRange}
	l.dsn(attrs, &s.DSN)
	switch kind {
	case KindPostgres:
		def := "syncd_" + strings.ReplaceAll(name, "-", "_")
		s.Slot, s.Publication = l.pgName(b, attrs, "slot", def), l.pgName(b, attrs, "publication", def)
	case KindMySQL:
		var id int64
		if l.requireNotNull(attrs, "server_id") && l.decode(attrs, "server_id", &id) {
			if id < 1 || id > math.MaxUint32 {
				l.errorf(attrs["server_id"].Expr.Range(), "Invalid server_id",
					"The server_id must be between 1 and 4294967295, not %d.", id)
			} else {
				s.ServerID = uint32(id)
			}
		}
		if a := attrs["signal_table"]; a != nil && !isNull(a.Expr) && l.decode(attrs, "signal_table", &s.SignalTable) && !signalTablePattern.MatchString(s.SignalTable) {
			l.errorf(a.Expr.Range(), "Invalid signal_table",
				"The signal_table %q must be a table name, or database.table, of letters, digits, '_' and '$'.", s.SignalTable)
		}
	case KindSQLServer:
		s.PollInterval = DefaultPollInterval
		l.duration(attrs, "poll_interval", &s.PollInterval, false)
	}
	if a := attrs["snapshot_parallelism"]; a != nil && !isNull(a.Expr) && l.decode(attrs, "snapshot_parallelism", &s.SnapshotParallelism) &&
		(s.SnapshotParallelism < 1 || s.SnapshotParallelism > MaxSnapshotParallelism) {
		l.errorf(a.Expr.Range(), "Invalid snapshot_parallelism",
			"The snapshot_parallelism must be between 1 and %d, not %d.", MaxSnapshotParallelism, s.SnapshotParallelism)
	}
	if !unique {
		return nil
	}
	return s
}

// pgName decodes a slot or publication name, or returns def if it is not
// set.
func (l *loader) pgName(b *hcl.Block, attrs hcl.Attributes, name, def string) string {
	a := attrs[name]
	if a == nil || isNull(a.Expr) {
		// def is valid when the source name is, unless it is too long.
		if namePattern.MatchString(b.Labels[1]) && !pgNamePattern.MatchString(def) {
			l.errorf(b.LabelRanges[1], "Invalid default "+name+" name",
				"The default %s name %q is longer than 63 characters; set %s explicitly.", name, def, name)
		}
		return def
	}
	v := def
	if l.decode(attrs, name, &v) && !pgNamePattern.MatchString(v) {
		l.errorf(a.Expr.Range(), "Invalid "+name+" name",
			"The %s name %q must have 1 to 63 lowercase letters, digits and '_'.", name, v)
	}
	return v
}

// decodeTarget decodes a target block; nil if its kind is unknown or its
// name taken.
func (l *loader) decodeTarget(b *hcl.Block) *Target {
	kind, name := b.Labels[0], b.Labels[1]
	unique := l.declare("target", b)
	if sourceSchema(kind) == nil {
		l.errorf(b.LabelRanges[0], "Unknown target kind",
			"The target kind %q is not supported; use %s.", kind, quotedList(engineKinds, "or"))
		return nil
	}
	content, diags := b.Body.Content(targetSchema())
	l.diags = append(l.diags, diags...)
	attrs := content.Attributes
	t := &Target{Kind: kind, Name: name, ScopeInfoTable: DefaultScopeInfoTable, RemovedTables: RemovedKeep, DeclRange: b.DefRange}
	l.dsn(attrs, &t.DSN)
	if l.decode(attrs, "scope_info_table", &t.ScopeInfoTable) && t.ScopeInfoTable == "" {
		l.errorf(attrs["scope_info_table"].Expr.Range(), "Empty scope_info_table", "The scope_info_table must not be empty.")
	}
	l.decode(attrs, "create_tables", &t.CreateTables)
	l.oneOf(attrs, "removed_tables", &t.RemovedTables, RemovedKeep, RemovedEmpty)
	if a := attrs["same_as"]; a != nil && l.decode(attrs, "same_as", &t.SameAs) {
		t.SameAsRange = a.Expr.Range()
	}
	if !unique {
		return nil
	}
	return t
}

// dsn decodes the required dsn of a source or target block, unless the
// load skips database secrets.
func (l *loader) dsn(attrs hcl.Attributes, dst *string) {
	if l.requireNotNull(attrs, "dsn") && !l.opts.SkipDatabaseSecrets {
		l.secret(attrs, "dsn", dst)
	}
}
