package mysql

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// server is what provisioning learned about the server.
type server struct {
	flavor  string // gomysql.MySQLFlavor or gomysql.MariaDBFlavor
	version string
	hasGTID bool // the server logs GTIDs a reader can resume from
	// tls is the binlog connection's TLS config: the DSN's, or nil if the
	// DSN has none or says tls=preferred and the server offers no TLS.
	tls    *tls.Config
	tables map[capture.TableID]*tableInfo
	saved  *state // the saved position, nil if none
	files  []string
	// lost is why the saved position cannot be resumed from (its binlog is
	// purged), when Config.Resnapshot makes that no terminal problem;
	// lostFrom is that position once the session starts afresh instead.
	lost     error
	lostFrom *state
}

// tableInfo is what the catalog says about one published table.
type tableInfo struct {
	spec    capture.TableSpec
	pk      []string
	columns []string
	types   []string // COLUMN_TYPE of each column
}

// provision checks everything the source needs and reports every problem
// at once, as one Terminal error. checkReplicas adds the check that no
// other replica uses the configured server id; Run skips it, since the
// server may still list this source's own previous connection.
func (s *Source) provision(ctx context.Context, db *sql.DB, checkReplicas bool) (*server, error) {
	var problems []error
	srv := &server{flavor: gomysql.MySQLFlavor}
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&srv.version); err != nil {
		return nil, fmt.Errorf("connect to source %s: %w", s.cfg.Name, err)
	}
	if strings.Contains(strings.ToLower(srv.version), "mariadb") {
		srv.flavor = gomysql.MariaDBFlavor
	}
	s.setStatus(func(st *Status) { st.Flavor = srv.flavor })
	tlsCfg, err := s.binlogTLS(ctx, db)
	if err != nil {
		return nil, err
	}
	srv.tls = tlsCfg

	vars := map[string]string{}
	for _, name := range []string{"log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "server_id", "gtid_mode", "binlog_order_commits"} {
		var v sql.NullString
		err := db.QueryRowContext(ctx, "SELECT @@GLOBAL."+name).Scan(&v)
		var me *mysqlError
		if errors.As(err, &me) && me.Number == 1193 { // unknown system variable
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read @@%s: %w", name, err)
		}
		vars[name] = strings.ToUpper(v.String)
	}
	if v := vars["log_bin"]; v != "1" && v != "ON" {
		problems = append(problems, errors.New("log_bin is OFF: the server writes no binary log; start it with log-bin (e.g. log-bin=mysql-bin in my.cnf) and restart it"))
	}
	if v := vars["binlog_format"]; v != "ROW" {
		problems = append(problems, fmt.Errorf("binlog_format is %s, syncd needs ROW: set binlog_format=ROW in my.cnf and run SET GLOBAL binlog_format = 'ROW' (sessions already open keep their format until they reconnect)", v))
	}
	if v := vars["binlog_row_image"]; v != "FULL" {
		problems = append(problems, fmt.Errorf("binlog_row_image is %s, syncd needs FULL (whole old and new rows): set binlog_row_image=FULL in my.cnf and run SET GLOBAL binlog_row_image = 'FULL'", v))
	}
	switch v, ok := vars["binlog_row_metadata"]; {
	case !ok:
		problems = append(problems, fmt.Errorf("server %s has no binlog_row_metadata setting: syncd needs MySQL 8.0.1 or MariaDB 10.5 or later, which log column names and types with each row event", srv.version))
	case v != "FULL":
		problems = append(problems, fmt.Errorf("binlog_row_metadata is %s, syncd needs FULL (column names, keys and charsets in the binlog): set binlog_row_metadata=FULL in my.cnf and run SET GLOBAL binlog_row_metadata = 'FULL'", v))
	}
	if v, ok := vars["binlog_order_commits"]; ok && srv.flavor == gomysql.MySQLFlavor && v != "1" && v != "ON" {
		// MariaDB has no such setting: it always commits in binlog order.
		problems = append(problems, errors.New("binlog_order_commits is OFF: syncd's chunked snapshots need transactions to become visible in binlog order; run SET GLOBAL binlog_order_commits = ON and set it in my.cnf"))
	}
	srv.hasGTID = srv.flavor == gomysql.MariaDBFlavor || vars["gtid_mode"] == "ON"

	serverID, _ := strconv.ParseUint(vars["server_id"], 10, 32)
	switch {
	case s.cfg.ServerID == 0:
		problems = append(problems, fmt.Errorf("source %s has server_id 0: a binlog reader registers as a replica and needs a non-zero server_id unique among the server and its replicas; set server_id in the source block (e.g. server_id = 4001)", s.cfg.Name))
	case uint64(s.cfg.ServerID) == serverID:
		problems = append(problems, fmt.Errorf("source %s has server_id %d, the same as the server's own @@server_id: the server would refuse the reader; choose another server_id in the source block", s.cfg.Name, s.cfg.ServerID))
	case checkReplicas:
		host, err := s.replicaWithID(ctx, db, srv.flavor)
		if err != nil {
			s.log.Warn("could not list the server's replicas", "error", err)
		} else if host != "" {
			problems = append(problems, fmt.Errorf("source %s has server_id %d, which replica %s already uses: two replicas with one server_id disconnect each other; choose another server_id in the source block", s.cfg.Name, s.cfg.ServerID, host))
		}
	}
	if p := s.checkGrants(ctx, db); p != nil {
		problems = append(problems, p)
	}

	tables, err := s.checkTables(ctx, db, &problems)
	if err != nil {
		return nil, err
	}
	srv.tables = tables
	if err := s.ensureSignalTable(ctx, db, &problems); err != nil {
		return nil, err
	}
	if err := s.checkSaved(ctx, db, srv, &problems); err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, retry.Terminal(errors.Join(problems...))
	}
	return srv, nil
}

// binlogTLS returns the TLS config the binlog connection must use: the
// DSN's, except that with tls=preferred, where go-sql-driver falls back to
// plain text on a server without TLS, the binlog connection does as the
// SQL connection did (go-mysql would refuse to fall back).
func (s *Source) binlogTLS(ctx context.Context, db *sql.DB) (*tls.Config, error) {
	if s.dsn.TLS == nil || !s.dsn.AllowFallbackToPlaintext {
		return s.dsn.TLS, nil
	}
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		return nil, fmt.Errorf("read Ssl_cipher: %w", err)
	}
	if cipher == "" {
		return nil, nil
	}
	return s.dsn.TLS, nil
}

// replicaWithID returns the host of a registered replica using the
// configured server id, or "".
func (s *Source) replicaWithID(ctx context.Context, db *sql.DB, flavor string) (string, error) {
	queries := []string{"SHOW REPLICAS", "SHOW SLAVE HOSTS"}
	if flavor == gomysql.MariaDBFlavor {
		queries = []string{"SHOW SLAVE HOSTS"}
	}
	var err error
	for _, q := range queries {
		var rows []map[string]string
		if rows, err = queryMaps(ctx, db, q); err != nil {
			continue
		}
		for _, r := range rows {
			if r["server_id"] == strconv.FormatUint(uint64(s.cfg.ServerID), 10) {
				return r["host"] + ":" + r["port"], nil
			}
		}
		return "", nil
	}
	return "", err
}

// checkGrants looks, best effort, for the privileges a binlog reader
// needs in SHOW GRANTS. It reports a problem only when the grants are
// plainly readable and lack them.
func (s *Source) checkGrants(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		s.log.Warn("could not read the user's grants", "error", err)
		return nil
	}
	defer rows.Close()
	var all []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil
		}
		all = append(all, strings.ToUpper(g))
	}
	if rows.Err() != nil {
		return nil
	}
	var slave, client, roles bool
	for _, g := range all {
		onAll := strings.Contains(g, " ON *.* ")
		if !strings.Contains(g, " ON ") {
			roles = true // GRANT role TO user: privileges we cannot see here
		}
		if onAll && strings.Contains(g, "ALL PRIVILEGES") {
			return nil
		}
		if onAll && (strings.Contains(g, "REPLICATION SLAVE") || strings.Contains(g, "REPLICATION REPLICA")) {
			slave = true
		}
		if onAll && (strings.Contains(g, "REPLICATION CLIENT") || strings.Contains(g, "BINLOG MONITOR") || strings.Contains(g, "SUPER")) {
			client = true
		}
	}
	if roles || (slave && client) {
		return nil
	}
	return fmt.Errorf("the user of source %s lacks REPLICATION SLAVE and REPLICATION CLIENT (MariaDB: BINLOG MONITOR) on *.*: run GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO %s@%s",
		s.cfg.Name, quoteString(s.dsn.User), "'%'")
}

// checkTables reads every published table from the catalog and adds a
// problem for each that is missing, lacks a column a scope uses, or has no
// primary key.
func (s *Source) checkTables(ctx context.Context, db *sql.DB, problems *[]error) (map[capture.TableID]*tableInfo, error) {
	tables := make(map[capture.TableID]*tableInfo, len(s.cfg.Tables))
	for _, spec := range s.cfg.Tables {
		ti := &tableInfo{spec: spec}
		if err := ti.readColumns(ctx, db); err != nil {
			return nil, err
		}
		if len(ti.columns) == 0 {
			*problems = append(*problems, fmt.Errorf("table %s (scope %s) does not exist", spec.ID, strings.Join(spec.Scopes, ", ")))
			continue
		}
		pk, err := db.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, spec.ID.Schema, spec.ID.Name)
		if err != nil {
			return nil, fmt.Errorf("read primary key of %s: %w", spec.ID, err)
		}
		if ti.pk, err = scanStrings(pk); err != nil {
			return nil, fmt.Errorf("read primary key of %s: %w", spec.ID, err)
		}
		if len(ti.pk) == 0 {
			*problems = append(*problems, fmt.Errorf("table %s has no primary key: its row changes could not be matched to target rows (updates and deletes would hit every duplicate, and snapshots read in key order); add a primary key: ALTER TABLE %s ADD PRIMARY KEY (...)", spec.ID, quoteTable(spec.ID)))
		}
		complete := true
		for _, col := range spec.Columns {
			if !slices.Contains(ti.columns, col) {
				*problems = append(*problems, fmt.Errorf("table %s has no column %q, which scope %s uses", spec.ID, col, strings.Join(spec.Scopes, ", ")))
				complete = false
			}
		}
		if spec.Check != nil && complete {
			if err := spec.Check(ti.table()); err != nil {
				*problems = append(*problems, err)
			}
		}
		tables[spec.ID] = ti
	}
	return tables, nil
}

// readColumns reads the names and types of the table's columns; none if
// it does not exist.
func (ti *tableInfo) readColumns(ctx context.Context, db *sql.DB) error {
	id := ti.spec.ID
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, id.Schema, id.Name)
	if err != nil {
		return fmt.Errorf("read columns of %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return fmt.Errorf("read columns of %s: %w", id, err)
		}
		ti.columns, ti.types = append(ti.columns, name), append(ti.types, typ)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read columns of %s: %w", id, err)
	}
	return nil
}

// table returns the table as the catalog describes it, for
// capture.TableSpec.Check.
func (ti *tableInfo) table() *capture.Table {
	t := &capture.Table{Schema: ti.spec.ID.Schema, Name: ti.spec.ID.Name, Columns: make([]capture.Column, len(ti.columns))}
	for i, name := range ti.columns {
		t.Columns[i] = capture.Column{Name: name, Type: ti.types[i]}
	}
	for _, k := range ti.pk {
		t.Key = append(t.Key, slices.Index(ti.columns, k))
	}
	return t
}

// checkSaved loads the saved position and checks that the server still
// has the binlog it must resume from.
func (s *Source) checkSaved(ctx context.Context, db *sql.DB, srv *server, problems *[]error) error {
	b, err := s.cfg.Store.Load(ctx, s.cfg.Name)
	if err != nil {
		return fmt.Errorf("load position of source %s: %w", s.cfg.Name, err)
	}
	files, err := binlogFiles(ctx, db)
	if err != nil {
		return err
	}
	srv.files = files
	if b == nil {
		return nil
	}
	st, err := decodeState(b)
	if err != nil {
		*problems = append(*problems, fmt.Errorf("saved position of source %s is unreadable (%w): delete it to start afresh", s.cfg.Name, err))
		return nil
	}
	srv.saved = &st
	if !slices.Contains(files, st.File) {
		if s.cfg.Resnapshot {
			srv.lost = purged(s.cfg.Name, st, files)
		} else {
			*problems = append(*problems, purged(s.cfg.Name, st, files))
		}
	}
	return nil
}

// purged is the error for a resume position the server no longer has.
func purged(source string, st state, files []string) error {
	first := "none"
	if len(files) > 0 {
		first = files[0]
	}
	what := "binlog file " + st.File
	if st.GTID != "" {
		what += " (gtid " + st.GTID + ")"
	}
	return fmt.Errorf("%s that source %s must resume from has been purged (first available: %s); the changes since are lost to syncd: raise binlog retention (binlog_expire_logs_seconds / expire_logs_days), then either set snapshot = \"when_needed\" on the source's scopes to have syncd copy their tables again, or delete the source's saved position and the scopes' snapshot records", what, source, first)
}

func binlogFiles(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := queryMaps(ctx, db, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("list binlog files: %w", err)
	}
	files := make([]string, 0, len(rows))
	for _, r := range rows {
		files = append(files, r["log_name"])
	}
	return files, nil
}

// masterStatus returns the binlog's current end and, on MySQL, the
// executed GTID set at that point.
func masterStatus(ctx context.Context, q queryer) (file string, pos uint32, gtid string, err error) {
	rows, err := queryMaps(ctx, q, "SHOW MASTER STATUS")
	if err != nil {
		rows, err = queryMaps(ctx, q, "SHOW BINARY LOG STATUS") // MySQL 8.4
	}
	if err != nil {
		return "", 0, "", fmt.Errorf("read binlog status: %w", err)
	}
	if len(rows) == 0 {
		return "", 0, "", retry.Terminal(errors.New("SHOW MASTER STATUS returned nothing: binary logging is off"))
	}
	p, err := strconv.ParseUint(rows[0]["position"], 10, 32)
	if err != nil {
		return "", 0, "", fmt.Errorf("read binlog status: position %q: %w", rows[0]["position"], err)
	}
	return rows[0]["file"], uint32(p), strings.ReplaceAll(rows[0]["executed_gtid_set"], "\n", ""), nil
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryMaps runs a SHOW statement and returns its rows keyed by lowercase
// column name.
func queryMaps(ctx context.Context, q queryer, query string, args ...any) ([]map[string]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[strings.ToLower(c)] = vals[i].String
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
