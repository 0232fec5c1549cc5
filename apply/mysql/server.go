package mysql

import (
	"strconv"
	"strings"
)

// server is what syncd needs to know of the server's kind and version.
type server struct {
	version string
	mariaDB bool
	// rowAlias: INSERT ... VALUES ... AS alias ON DUPLICATE KEY UPDATE
	// (MySQL 8.0.19+, which deprecates VALUES(col) there). MariaDB has
	// only VALUES(col).
	rowAlias bool
}

// parseServer reads SELECT VERSION() ("10.11.6-MariaDB-0+deb12u1",
// "8.0.36").
func parseServer(version string) *server {
	s := &server{version: version, mariaDB: strings.Contains(strings.ToLower(version), "mariadb")}
	if !s.mariaDB {
		s.rowAlias = versionAtLeast(version, 8, 0, 19)
	}
	return s
}

// versionAtLeast compares the leading "X.Y.Z" of v with x.y.z.
func versionAtLeast(v string, want ...int) bool {
	if i := strings.IndexFunc(v, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	for i, w := range want {
		n := 0
		if i < len(parts) {
			n, _ = strconv.Atoi(parts[i])
		}
		if n != w {
			return n > w
		}
	}
	return true
}

// binCollation is the collation of tables syncd creates: binary, so that
// keys differing in case or accents (as PostgreSQL text keys may) stay
// different rows, and without padding where the server has one, so that
// trailing spaces count too.
func (s *server) binCollation() string {
	switch {
	case s.mariaDB && versionAtLeast(s.version, 10, 2):
		return "utf8mb4_nopad_bin"
	case !s.mariaDB && versionAtLeast(s.version, 8, 0, 1):
		return "utf8mb4_0900_bin"
	}
	return "utf8mb4_bin"
}

// tableName is a database-qualified table name.
type tableName struct{ db, name string }

// splitName turns "db.table" or "table" into a name; a bare table is in
// defaultDB.
func splitName(name, defaultDB string) tableName {
	if db, table, ok := strings.Cut(name, "."); ok {
		return tableName{db, table}
	}
	return tableName{defaultDB, name}
}

func (n tableName) String() string { return n.db + "." + n.name }

// quoted is the name with both parts quoted.
func (n tableName) quoted() string { return quote(n.db) + "." + quote(n.name) }

// quote quotes an identifier with backticks, doubling embedded ones.
func quote(id string) string {
	return "`" + strings.ReplaceAll(id, "`", "``") + "`"
}
