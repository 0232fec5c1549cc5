package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/syncd-dev/syncd/capture"
)

// Actions of plan entries.
const (
	actionNone     = "none"
	actionCreate   = "create"
	actionUpdate   = "update"
	actionDelete   = "delete"
	actionSnapshot = "snapshot" // unchanged, but its snapshot is still to take
)

// planDoc is what syncd plan --json prints. Its fields are a stable
// interface for scripts: new fields may be added, none renamed.
type planDoc struct {
	// Changes says whether anything would change (the exit code is 2).
	Changes bool         `json:"changes"`
	Scopes  []scopePlan  `json:"scopes"`
	Sources []sourcePlan `json:"sources,omitempty"`
	Summary planSummary  `json:"summary"`
}

// planSummary counts the entries by action.
type planSummary struct {
	ScopesToCreate  int `json:"scopes_to_create"`
	ScopesToUpdate  int `json:"scopes_to_update"`
	ScopesToDelete  int `json:"scopes_to_delete"`
	TablesToCreate  int `json:"tables_to_create"`
	TablesToUpdate  int `json:"tables_to_update"`
	TablesToDelete  int `json:"tables_to_delete"`
	TargetsToCreate int `json:"targets_to_create"`
	TargetsToUpdate int `json:"targets_to_update"`
	TargetsToDelete int `json:"targets_to_delete"`
	SourcesToUpdate int `json:"sources_to_update"`
}

// change is a setting's recorded and configured value.
type change struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// scopePlan is one scope: Action is create (new in the config), delete
// (recorded, gone from the config), update or none.
type scopePlan struct {
	Scope        string       `json:"scope"`
	Action       string       `json:"action"`
	Source       *change      `json:"source,omitempty"`
	Snapshot     *change      `json:"snapshot,omitempty"`
	Stream       string       `json:"stream"`
	StreamExists bool         `json:"stream_exists"`
	Tables       []tablePlan  `json:"tables,omitempty"`
	Targets      []targetPlan `json:"targets,omitempty"`
}

// tablePlan is one table of a scope. Backfill counts the source rows that
// start to belong to the scope's targets (or gain columns there), Delete
// those that stop belonging; both from the source, with Exact false when
// they are the planner's estimates.
type tablePlan struct {
	Table          string            `json:"table"`
	Action         string            `json:"action"`
	ColumnsAdded   []string          `json:"columns_added,omitempty"`
	ColumnsRemoved []string          `json:"columns_removed,omitempty"`
	Filter         *change           `json:"filter,omitempty"`
	TargetTable    *change           `json:"target_table,omitempty"`
	Mapping        *change           `json:"mapping,omitempty"` // canonical JSON, old and new
	Backfill       *capture.RowCount `json:"backfill,omitempty"`
	Delete         *capture.RowCount `json:"delete,omitempty"`
	// DeleteAt are, for a removed table, the targets with removed_tables
	// = "empty" that delete its rows (Delete, counted at the source with
	// the table's last filter); empty, the targets keep the table and its
	// rows, and Delete is nil.
	DeleteAt []string `json:"delete_at,omitempty"`
}

// targetPlan is one target of a scope: create (listed, holds no
// checkpoint of the scope yet), delete (no longer listed, holds one),
// update (tables or columns missing) or none.
type targetPlan struct {
	Target         string         `json:"target"`
	Action         string         `json:"action"`
	CreateTables   bool           `json:"create_tables"` // the target's create_tables setting
	TablesToCreate []tableColumns `json:"tables_to_create,omitempty"`
	ColumnsToAdd   []tableColumns `json:"columns_to_add,omitempty"`
}

type tableColumns struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
}

// sourcePlan is a PostgreSQL source's publication and slot.
type sourcePlan struct {
	Source            string   `json:"source"`
	Publication       string   `json:"publication"`
	PublicationExists bool     `json:"publication_exists"`
	PublicationAdd    []string `json:"publication_add,omitempty"`
	PublicationRemove []string `json:"publication_remove,omitempty"`
	Slot              string   `json:"slot"`
	SlotExists        bool     `json:"slot_exists"`
}

func (s sourcePlan) changed() bool {
	return !s.PublicationExists || !s.SlotExists || len(s.PublicationAdd)+len(s.PublicationRemove) > 0
}

// count fills in Summary and Changes.
func (d *planDoc) count() {
	var s planSummary
	tally := func(action string, create, update, del *int) {
		switch action {
		case actionCreate:
			*create++
		case actionUpdate, actionSnapshot:
			*update++
		case actionDelete:
			*del++
		}
	}
	for _, sp := range d.Scopes {
		scopeAction := sp.Action
		if scopeAction == actionNone && (len(sp.Tables) > 0 || !sp.StreamExists || changedTargets(sp)) {
			scopeAction = actionUpdate
		}
		tally(scopeAction, &s.ScopesToCreate, &s.ScopesToUpdate, &s.ScopesToDelete)
		for _, tp := range sp.Tables {
			tally(tp.Action, &s.TablesToCreate, &s.TablesToUpdate, &s.TablesToDelete)
		}
		for _, tp := range sp.Targets {
			tally(tp.Action, &s.TargetsToCreate, &s.TargetsToUpdate, &s.TargetsToDelete)
		}
	}
	for _, sp := range d.Sources {
		if sp.changed() {
			s.SourcesToUpdate++
		}
	}
	d.Summary = s
	d.Changes = s != planSummary{}
}

func changedTargets(sp scopePlan) bool {
	for _, tp := range sp.Targets {
		if tp.Action != actionNone {
			return true
		}
	}
	return false
}

// renderPlan writes the plan for a person to read, like terraform plan:
// + to create, - to delete, ~ to change.
func renderPlan(w io.Writer, d *planDoc) {
	if !d.Changes {
		fmt.Fprintln(w, "No changes: the running scopes, streams, publications and target tables match the config.")
		return
	}
	for _, sp := range d.Scopes {
		renderScope(w, sp)
	}
	for _, sp := range d.Sources {
		if !sp.changed() {
			continue
		}
		fmt.Fprintf(w, "~ source %s\n", sp.Source)
		switch {
		case !sp.PublicationExists:
			fmt.Fprintf(w, "    + publication %s\n", sp.Publication)
		case len(sp.PublicationAdd)+len(sp.PublicationRemove) > 0:
			fmt.Fprintf(w, "    ~ publication %s:%s%s\n", sp.Publication, prefixed(" +", sp.PublicationAdd), prefixed(" -", sp.PublicationRemove))
		}
		if !sp.SlotExists {
			fmt.Fprintf(w, "    + slot %s\n", sp.Slot)
		}
	}
	s := d.Summary
	fmt.Fprintf(w, "\nPlan: scopes %d to create, %d to change, %d to delete; tables %d to create, %d to change, %d to delete; targets %d to create, %d to change, %d to delete; sources %d to change.\n",
		s.ScopesToCreate, s.ScopesToUpdate, s.ScopesToDelete, s.TablesToCreate, s.TablesToUpdate, s.TablesToDelete,
		s.TargetsToCreate, s.TargetsToUpdate, s.TargetsToDelete, s.SourcesToUpdate)
}

func renderScope(w io.Writer, sp scopePlan) {
	changed := sp.Action != actionNone || len(sp.Tables) > 0 || !sp.StreamExists || changedTargets(sp)
	if !changed {
		return
	}
	switch sp.Action {
	case actionCreate:
		fmt.Fprintf(w, "+ scope %s\n", sp.Scope)
	case actionDelete:
		fmt.Fprintf(w, "- scope %s (the daemon stops publishing it; stream %s stays)\n", sp.Scope, sp.Stream)
	default:
		fmt.Fprintf(w, "~ scope %s\n", sp.Scope)
	}
	if sp.Source != nil {
		fmt.Fprintf(w, "    ~ source: %s  →  %s\n", sp.Source.Old, sp.Source.New)
	}
	if sp.Snapshot != nil {
		fmt.Fprintf(w, "    ~ snapshot: %s  →  %s\n", sp.Snapshot.Old, sp.Snapshot.New)
	}
	if !sp.StreamExists && sp.Action != actionDelete {
		fmt.Fprintf(w, "    + stream %s\n", sp.Stream)
	}
	for _, tp := range sp.Tables {
		renderTable(w, tp)
	}
	for _, tp := range sp.Targets {
		renderTarget(w, tp)
	}
}

func renderTable(w io.Writer, tp tablePlan) {
	counts := rowCounts(tp)
	switch tp.Action {
	case actionCreate:
		fmt.Fprintf(w, "    + table %s%s\n", tp.Table, counts)
		if len(tp.ColumnsAdded) > 0 {
			fmt.Fprintf(w, "        columns: %s\n", strings.Join(tp.ColumnsAdded, ", "))
		}
		return
	case actionDelete:
		if len(tp.DeleteAt) == 0 {
			fmt.Fprintf(w, "    - table %s   (kept at the targets, rows and all)\n", tp.Table)
			return
		}
		fmt.Fprintf(w, "    - table %s   (rows to delete at target %s: %s)\n", tp.Table, strings.Join(tp.DeleteAt, ", "), strings.TrimPrefix(rowCount(*tp.Delete), "= "))
		return
	case actionSnapshot:
		fmt.Fprintf(w, "    ~ table %s: snapshot still to take%s\n", tp.Table, counts)
		return
	}
	fmt.Fprintf(w, "    ~ table %s\n", tp.Table)
	if tp.Filter != nil {
		fmt.Fprintf(w, "        ~ filter: %s  →  %s%s\n", orAll(tp.Filter.Old), orAll(tp.Filter.New), counts)
		counts = ""
	}
	for _, c := range tp.ColumnsAdded {
		fmt.Fprintf(w, "        + column %s%s\n", c, counts)
		counts = ""
	}
	for _, c := range tp.ColumnsRemoved {
		fmt.Fprintf(w, "        - column %s\n", c)
	}
	if tp.TargetTable != nil {
		fmt.Fprintf(w, "        ~ target table: %s  →  %s%s\n", tp.TargetTable.Old, tp.TargetTable.New, counts)
		counts = ""
	}
	if tp.Mapping != nil {
		fmt.Fprintf(w, "        ~ mapping: %s  →  %s%s\n", orNone(tp.Mapping.Old), orNone(tp.Mapping.New), counts)
	}
}

func renderTarget(w io.Writer, tp targetPlan) {
	switch tp.Action {
	case actionNone:
		return
	case actionCreate:
		fmt.Fprintf(w, "    + target %s (applies the scope from its start)\n", tp.Target)
	case actionDelete:
		fmt.Fprintf(w, "    - target %s (no longer applied; its tables and checkpoint stay)\n", tp.Target)
		return
	default:
		fmt.Fprintf(w, "    ~ target %s\n", tp.Target)
	}
	how := ""
	if !tp.CreateTables {
		how = " (create_tables is off: create it before running)"
	}
	for _, tc := range tp.TablesToCreate {
		fmt.Fprintf(w, "        + target table %s (%s)%s\n", tc.Table, strings.Join(tc.Columns, ", "), how)
	}
	for _, tc := range tp.ColumnsToAdd {
		fmt.Fprintf(w, "        + target columns %s: %s%s\n", tc.Table, strings.Join(tc.Columns, ", "), how)
	}
}

// rowCounts is "   (backfill ≈ 12 rows, delete = 3 rows)", or "".
func rowCounts(tp tablePlan) string {
	var parts []string
	if tp.Backfill != nil {
		parts = append(parts, "backfill "+rowCount(*tp.Backfill))
	}
	if tp.Delete != nil {
		parts = append(parts, "delete "+rowCount(*tp.Delete))
	}
	if len(parts) == 0 {
		return ""
	}
	return "   (" + strings.Join(parts, ", ") + ")"
}

// rowCount is "= 1,234 rows" for an exact count, "≈ 1,234 rows" for an
// estimate.
func rowCount(n capture.RowCount) string {
	sign := "≈"
	if n.Exact {
		sign = "="
	}
	unit := "rows"
	if n.Rows == 1 {
		unit = "row"
	}
	return sign + " " + thousands(n.Rows) + " " + unit
}

// thousands writes n with a comma between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func orAll(where string) string {
	if where == "" {
		return "(every row)"
	}
	return where
}

func prefixed(prefix string, items []string) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(prefix + " " + it)
	}
	return b.String()
}

// orNone returns a mapping's text, or "(none)".
func orNone(mapping string) string {
	if mapping == "" {
		return "(none)"
	}
	return mapping
}
