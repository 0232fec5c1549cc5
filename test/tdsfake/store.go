package tdsfake

import (
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Store is a Handler that holds tables and answers the statements
// apply/sqlserver sends, so that a test can drive the real target over
// TDS and check the rows the fake then holds. It is a FAKE, not a SQL
// engine: it recognises the SHAPES of syncd's statements by pattern
// (apply/sqlserver/statements.go, scopeinfo.go, catalog.go, probe.go: the upsert's
// UPDATE … FROM (VALUES …) and INSERT … WHERE NOT EXISTS, the delete by
// a VALUES join, the update by key, DELETE FROM, the scope_info upsert
// and read, the catalog lookups, the two-way probe (probe.go)) and applies them to its rows by
// parameter number. It proves that the target's statements, their
// parameters and its transactions reach the wire and come back through
// go-mssqldb as the target expects, and that the parameters the target
// sends for each row are the values the rows should hold. It does not
// prove that SQL Server parses the T-SQL, nor its locking, types,
// collations or constraints other than the key: the keyless DELETE TOP
// (1) and anything else it does not recognise fall through to the
// script (which fails the test).
//
// Transactions: BEGIN takes a copy of the tables, ROLLBACK restores it,
// COMMIT drops it; one connection at a time.
type Store struct {
	mu        sync.Mutex
	tables    map[string]*Table // by quoted name, as the target quotes it
	scopeInfo map[string]bool   // the quoted names of scope_info tables
	info      map[[2]string][]any
	saved     *storeState // at BEGIN
	savepoint *storeState // at SAVE TRANSACTION (one name: syncd's)
	lastID    string      // the table OBJECT_ID last found: the catalog queries follow it
}

type storeState struct {
	tables map[string]*Table
	info   map[[2]string][]any
}

// Table is a table of a Store.
type Table struct {
	Cols []Column
	Key  []string // the primary key's column names
	// Rows by key (keyText), each by column name.
	Rows map[string]map[string]any
	// Contexts are the change tracking contexts of the row changes in
	// the order they were written (nil for an untagged one), as "op key
	// context" lines: "U 1 syncd:pg:s:erp".
	Contexts []string
}

// Column is a column of a Table: its name and sys.types name.
type Column struct {
	Name, Type string
	Identity   bool
	// DDL is the column's type as the CREATE TABLE that made the table
	// wrote it ("DECIMAL(38,10)", "NVARCHAR(MAX)"; a collation dropped),
	// and Scale its sys.columns scale (decimal places; fractional
	// seconds of time, datetime2 and datetimeoffset).
	DDL   string
	Scale int64
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{tables: map[string]*Table{}, scopeInfo: map[string]bool{}, info: map[[2]string][]any{}}
}

// AddTable adds an empty table named quoted ("[dbo].[items]").
func (s *Store) AddTable(quoted string, key []string, cols ...Column) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tables[quoted] = &Table{Cols: cols, Key: key, Rows: map[string]map[string]any{}}
}

// Insert adds row, by column name, to table quoted, as a row the test
// found there: its values as go-mssqldb sends them (int64, string, nil…).
func (s *Store) Insert(quoted string, row map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[quoted]
	t.Rows[t.keyText(row)] = maps.Clone(row)
}

// Rows returns the rows of table quoted, sorted, each as "c=v c=v" in
// column order (NULL for an untyped NULL, NULL:varbinary for a typed
// one).
func (s *Store) Rows(quoted string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[quoted]
	if t == nil {
		return nil
	}
	var out []string
	for _, r := range t.Rows {
		var f []string
		for _, c := range t.Cols {
			v, ok := r[c.Name]
			switch {
			case !ok || v == nil:
				f = append(f, c.Name+"=NULL")
			default:
				f = append(f, fmt.Sprintf("%s=%v", c.Name, v))
			}
		}
		out = append(out, strings.Join(f, " "))
	}
	slices.Sort(out)
	return out
}

// Contexts returns the change contexts of table quoted (Table.Contexts).
func (s *Store) Contexts(quoted string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tables[quoted]; t != nil {
		return slices.Clone(t.Contexts)
	}
	return nil
}

// ScopeInfo returns the scope_info row of (scope, source): the values of
// the write's parameters, in apply/sqlserver's scopeInfoColumns order.
func (s *Store) ScopeInfo(scope, source string) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.info[[2]string{scope, source}])
}

// Transaction implements Handler.
func (s *Store) Transaction(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch op {
	case "BEGIN":
		s.saved = s.copyState()
	case "ROLLBACK":
		if s.saved != nil {
			s.tables, s.info = s.saved.tables, s.saved.info
		}
		s.saved, s.savepoint = nil, nil
	case "COMMIT":
		s.saved, s.savepoint = nil, nil
	}
}

// copyState returns a deep copy of the tables and scope_info rows.
func (s *Store) copyState() *storeState {
	st := &storeState{tables: map[string]*Table{}, info: maps.Clone(s.info)}
	for n, t := range s.tables {
		c := *t
		c.Rows = map[string]map[string]any{}
		for k, r := range t.Rows {
			c.Rows[k] = maps.Clone(r)
		}
		c.Contexts = slices.Clone(t.Contexts)
		st.tables[n] = &c
	}
	return st
}

var (
	ctxRE       = regexp.MustCompile(`^WITH CHANGE_TRACKING_CONTEXT \(0x([0-9A-F]+)\)\n`)
	upsUpdateRE = regexp.MustCompile(`^UPDATE T SET .+ FROM (\S+) AS T WITH \(UPDLOCK, SERIALIZABLE\) JOIN \(VALUES (.+)\) AS S \((.+?)\) ON .+$`)
	upsInsertRE = regexp.MustCompile(`^INSERT INTO (\S+) \(.+?\) SELECT .+ FROM \(VALUES (.+)\) AS S \((.+?)\) WHERE NOT EXISTS .+$`)
	insertRE    = regexp.MustCompile(`^INSERT INTO (\S+) \((.+?)\) VALUES (.+)$`)
	deleteRE    = regexp.MustCompile(`^DELETE T FROM (\S+) AS T JOIN \(VALUES (.+)\) AS S \((.+?)\) ON .+$`)
	updateRE    = regexp.MustCompile(`^UPDATE (\S+) SET (.+) WHERE (.+)$`)
	truncateRE  = regexp.MustCompile(`^DELETE FROM (\S+)$`)
	identityRE  = regexp.MustCompile(`^SET IDENTITY_INSERT \S+ (ON|OFF)$`)
	tupleRE     = regexp.MustCompile(`\(([^()]*)\)`)
	assignRE    = regexp.MustCompile(`(\[(?:[^\]]|\]\])+\]) = @p(\d+)`)
	infoWriteRE = regexp.MustCompile(`^UPDATE (\S+) WITH \(UPDLOCK, SERIALIZABLE\) SET scope_version = @p3`)
	infoReadRE  = regexp.MustCompile(`^SELECT scope_version, definition, column_schema, last_position,\s+last_stream_seq, last_applied_at, last_txn_apply_ms, rows_applied, syncd_version,\s+backfill, backfill_table, backfill_rows\s+FROM (\S+) WHERE scope = @p1 AND source = @p2$`)
	createInfo  = regexp.MustCompile(`^CREATE TABLE (\S+) \(\s+scope\s+NVARCHAR`)
	createRE    = regexp.MustCompile(`^CREATE TABLE (\S+) \((.*), PRIMARY KEY \((.+)\)\);?$`)
	nameRE      = regexp.MustCompile(`\[((?:[^\]]|\]\])+)\]`)
	columnRE    = regexp.MustCompile(`\[((?:[^\]]|\]\])+)\] ([A-Z0-9]+(?:\([0-9A-Z, ]+\))?)(?: COLLATE \S+)? (?:NOT )?NULL`)
)

// create adds the table a create_tables CREATE TABLE makes (apply/sqlserver
// prepare.go): its columns by name and type, and its primary key.
func (s *Store) create(m []string) {
	t := &Table{Rows: map[string]map[string]any{}}
	unquote := func(q string) string { return strings.ReplaceAll(q, "]]", "]") }
	for _, c := range columnRE.FindAllStringSubmatch(m[2], -1) {
		base, args, _ := strings.Cut(strings.TrimSuffix(c[2], ")"), "(")
		col := Column{Name: unquote(c[1]), Type: strings.ToLower(base), DDL: c[2]}
		a := strings.Split(args, ",")
		switch col.Type {
		case "decimal", "numeric":
			if len(a) == 2 {
				col.Scale, _ = strconv.ParseInt(strings.TrimSpace(a[1]), 10, 64)
			}
		case "time", "datetime2", "datetimeoffset":
			col.Scale, _ = strconv.ParseInt(a[0], 10, 64)
		}
		t.Cols = append(t.Cols, col)
	}
	for _, k := range nameRE.FindAllStringSubmatch(m[3], -1) {
		t.Key = append(t.Key, unquote(k[1]))
	}
	s.tables[m[1]] = t
}

// Columns returns the columns of table quoted.
func (s *Store) Columns(quoted string) []Column {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tables[quoted]; t != nil {
		return slices.Clone(t.Cols)
	}
	return nil
}

// Statement implements Handler.
func (s *Store) Statement(text string, p []any) (Result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case text == "SELECT @@VERSION":
		return Result{Cols: []Type{NVarchar}, Rows: [][]any{{"Microsoft SQL Server (tdsfake Store)"}}}, true
	case text == "SELECT OBJECT_ID(@p1, N'U')":
		name, _ := p[0].(string)
		var id any
		if _, ok := s.tables[name]; ok || s.scopeInfo[name] {
			id = int64(1000 + len(name)) // any id; lookups below are by name
			s.lastID = name
		}
		return Result{Cols: []Type{Int4}, Rows: [][]any{{id}}}, true
	case strings.HasPrefix(text, "SAVE TRANSACTION "):
		s.savepoint = s.copyState()
		return Result{}, true
	case strings.HasPrefix(text, "ROLLBACK TRANSACTION ") && s.savepoint != nil:
		s.tables, s.info = s.savepoint.tables, s.savepoint.info
		return Result{}, true
	case strings.HasPrefix(text, "IF COL_LENGTH("): // scope_info's columns are current
		return Result{}, true
	case text == "SELECT COUNT(*) FROM sys.schemas WHERE name = @p1":
		return Result{Cols: []Type{Int4}, Rows: [][]any{{int64(1)}}}, true
	case strings.HasPrefix(text, "SELECT c.name, LOWER(TYPE_NAME(c.system_type_id)), c.scale, c.is_identity"):
		r := Result{Cols: []Type{NVarchar, NVarchar, Int4, Bit}}
		if t := s.tables[s.lastID]; t != nil {
			for _, c := range t.Cols {
				r.Rows = append(r.Rows, []any{c.Name, c.Type, c.Scale, c.Identity})
			}
		}
		return r, true
	case strings.HasPrefix(text, "SELECT i.index_id, c.name"):
		r := Result{Cols: []Type{Int4, NVarchar}}
		if t := s.tables[s.lastID]; t != nil {
			for _, k := range t.Key {
				r.Rows = append(r.Rows, []any{int64(1), k})
			}
		}
		return r, true
	}
	if m := createInfo.FindStringSubmatch(text); m != nil {
		s.scopeInfo[m[1]] = true
		return Result{}, true
	}
	if m := createRE.FindStringSubmatch(text); m != nil {
		s.create(m)
		return Result{}, true
	}
	if m := infoReadRE.FindStringSubmatch(text); m != nil {
		r := Result{Cols: []Type{Int4, NVarchar, NVarchar, NVarchar, NVarchar, DateTime2, Float8, Int8, NVarchar, NVarchar, NVarchar, Int8}}
		if v := s.info[[2]string{p[0].(string), p[1].(string)}]; v != nil {
			at, _ := time.Parse("2006-01-02T15:04:05.9999999", v[7].(string))
			r.Rows = [][]any{{v[2], v[3], v[4], v[5], v[6], at, v[8], v[9], v[10], v[11], v[12], v[13]}}
		}
		return r, true
	}
	if r, ok := s.probe(text, p); ok {
		return r, true
	}
	if infoWriteRE.MatchString(text) {
		k := [2]string{p[0].(string), p[1].(string)}
		v := slices.Clone(p)
		if old := s.info[k]; old != nil { // COALESCE: NULL keeps the stored JSON
			for _, i := range []int{3, 4} {
				if v[i] == nil {
					v[i] = old[i]
				}
			}
		}
		s.info[k] = v
		return Result{Affected: 1}, true
	}
	var affected int64
	for _, stmt := range strings.Split(text, ";\n") {
		n, ok, err := s.exec(stmt, p)
		if err != nil {
			return *err, true
		}
		if !ok {
			return Result{}, false
		}
		affected += n
	}
	return Result{Affected: affected}, true
}

// exec runs one statement that writes rows; ok is false for one it does
// not know, or on a table it does not hold.
func (s *Store) exec(stmt string, p []any) (n int64, ok bool, fail *Result) {
	context := ""
	if m := ctxRE.FindStringSubmatch(stmt); m != nil {
		b, _ := hex.DecodeString(m[1])
		context = string(b)
		stmt = stmt[len(m[0]):]
	}
	if identityRE.MatchString(stmt) {
		return 0, true, nil
	}
	for _, w := range writes {
		m := w.re.FindStringSubmatch(stmt)
		if m == nil {
			continue
		}
		t := s.tables[m[1]]
		if t == nil {
			return 0, false, nil
		}
		n, fail = w.run(t, m, p, context)
		return n, true, fail
	}
	return 0, false, nil
}

// writes are the statement shapes that write rows: m[1] of re is the
// table; run applies the statement and returns the rows it wrote.
var writes = []struct {
	re  *regexp.Regexp
	run func(t *Table, m []string, p []any, context string) (int64, *Result)
}{
	{upsUpdateRE, func(t *Table, m []string, p []any, context string) (n int64, _ *Result) {
		for _, r := range tuples(m[2], columns(m[3]), p) {
			if old, ok := t.Rows[t.keyText(r)]; ok {
				maps.Copy(old, r)
				t.log("U", r, context)
				n++
			}
		}
		return n, nil
	}},
	{upsInsertRE, func(t *Table, m []string, p []any, context string) (n int64, _ *Result) {
		for _, r := range tuples(m[2], columns(m[3]), p) {
			if k := t.keyText(r); t.Rows[k] == nil {
				t.Rows[k] = r
				t.log("I", r, context)
				n++
			}
		}
		return n, nil
	}},
	{insertRE, func(t *Table, m []string, p []any, context string) (n int64, _ *Result) {
		for _, r := range tuples(m[3], columns(m[2]), p) {
			k := t.keyText(r)
			if t.Rows[k] != nil {
				return 0, &Result{ErrNo: 3621, Msg: "The statement has been terminated.",
					Before: []Result{{ErrNo: 2627, Msg: "Violation of PRIMARY KEY constraint. Cannot insert duplicate key in object " + m[1] + "."}}}
			}
			t.Rows[k] = r
			t.log("I", r, context)
			n++
		}
		return n, nil
	}},
	{deleteRE, func(t *Table, m []string, p []any, context string) (n int64, _ *Result) {
		for _, r := range tuples(m[2], columns(m[3]), p) {
			if k := t.keyText(r); t.Rows[k] != nil {
				delete(t.Rows, k)
				t.log("D", r, context)
				n++
			}
		}
		return n, nil
	}},
	{truncateRE, func(t *Table, _ []string, _ []any, context string) (int64, *Result) {
		for _, r := range t.Rows {
			t.log("D", r, context)
		}
		n := int64(len(t.Rows))
		clear(t.Rows)
		return n, nil
	}},
	{updateRE, func(t *Table, m []string, p []any, context string) (int64, *Result) {
		k := t.keyText(assignments(m[3], p))
		old := t.Rows[k]
		if old == nil {
			return 0, nil
		}
		maps.Copy(old, assignments(m[2], p))
		if nk := t.keyText(old); nk != k {
			delete(t.Rows, k)
			t.Rows[nk] = old
		}
		t.log("U", old, context)
		return 1, nil
	}},
}

// log records a change of row r.
func (t *Table) log(op string, r map[string]any, context string) {
	t.Contexts = append(t.Contexts, strings.TrimSpace(op+" "+t.keyText(r)+" "+context))
}

// keyText is the key of row r as text: its values joined by "/".
func (t *Table) keyText(r map[string]any) string {
	var f []string
	for _, k := range t.Key {
		f = append(f, fmt.Sprint(r[k]))
	}
	return strings.Join(f, "/")
}

// columns splits "[a], [b]" into the unquoted names.
func columns(list string) []string {
	var out []string
	for _, c := range strings.Split(list, ", ") {
		out = append(out, unquote(c))
	}
	return out
}

func unquote(q string) string {
	return strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(q, "["), "]"), "]]", "]")
}

// tuples reads "(@p1, @p2), (@p3, @p4)" as rows of cols, each value the
// parameter it names.
func tuples(values string, cols []string, p []any) []map[string]any {
	var rows []map[string]any
	for _, m := range tupleRE.FindAllStringSubmatch(values, -1) {
		r := map[string]any{}
		for i, ref := range strings.Split(m[1], ", ") {
			r[cols[i]] = param(ref, p)
		}
		rows = append(rows, r)
	}
	return rows
}

// assignments reads "[c] = @p1, [d] = @p2" or "[k] = @p3 AND …".
func assignments(list string, p []any) map[string]any {
	r := map[string]any{}
	for _, m := range assignRE.FindAllStringSubmatch(list, -1) {
		r[unquote(m[1])] = param("@p"+m[2], p)
	}
	return r
}

// param is the value of parameter ref ("@p3").
func param(ref string, p []any) any {
	i, err := strconv.Atoi(strings.TrimPrefix(ref, "@p"))
	if err != nil || i < 1 || i > len(p) {
		return fmt.Sprintf("<bad parameter %s>", ref)
	}
	return p[i-1]
}
