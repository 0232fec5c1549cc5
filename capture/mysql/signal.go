package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/syncd-dev/syncd/capture"
)

// A chunked backfill writes its low and high watermarks into the binlog
// as autocommit INSERTs into a signal table on the source, as Debezium
// does for MySQL: MySQL has no logical decoding message. Every binlog
// reader of the server sees them; the session reads the signal table's
// rows although no scope publishes it, passes none of them on, and keeps
// only the watermarks of its own source and run (signalMark).

// defaultSignalTable is the signal table's name in the DSN's database.
const defaultSignalTable = "syncd_signal"

// signalDDL creates the signal table.
const signalDDL = `CREATE TABLE IF NOT EXISTS %s (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  watermark VARCHAR(1024) NOT NULL,
  written TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB`

// signalMark is a watermark, as the signal table's watermark column
// holds it in JSON.
type signalMark struct {
	Source   string `json:"source"`
	ServerID uint32 `json:"server_id"`
	Run      string `json:"run"`
	Chunk    int64  `json:"chunk"`
	Mark     string `json:"mark"` // "low" or "high"
}

// signalTable returns the signal table's name.
func (s *Source) signalTable() capture.TableID {
	if db, name, ok := strings.Cut(s.cfg.SignalTable, "."); ok {
		return capture.TableID{Schema: db, Name: name}
	}
	return capture.TableID{Schema: s.dsn.DBName, Name: s.cfg.SignalTable}
}

// ensureSignalTable creates the signal table if it does not exist. If it
// cannot, it adds a problem that names the privilege missing.
func (s *Source) ensureSignalTable(ctx context.Context, db *sql.DB, problems *[]error) error {
	id := s.signalTable()
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", id.Schema, id.Name).Scan(&n)
	if err != nil {
		return fmt.Errorf("look for the signal table %s: %w", id, err)
	}
	if n > 0 {
		return nil
	}
	ddl := fmt.Sprintf(signalDDL, quoteTable(id))
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		*problems = append(*problems, fmt.Errorf("create the signal table %s, where backfills write their watermarks: %w; grant the user of source %s CREATE and INSERT on it (GRANT CREATE, INSERT, DELETE ON %s.* TO ...), or create it yourself: %s",
			id, err, s.cfg.Name, quoteIdent(id.Schema), strings.Join(strings.Fields(ddl), " ")))
		return nil
	}
	s.log.Info("created the signal table", "table", id)
	return nil
}

// signal reads a rows event of the signal table: it notes the switch
// points and the running backfill's watermarks for the open transaction,
// and ignores the rest
// (other sources' and runs' watermarks, deletes).
func (ss *session) signal(e *replication.RowsEvent) {
	bf := ss.bf
	if e.Type() != replication.EnumRowsEventTypeInsert {
		return
	}
	for _, row := range e.Rows {
		for _, v := range row {
			var text []byte
			switch v := v.(type) {
			case string:
				text = []byte(v)
			case []byte:
				text = v
			default:
				continue
			}
			ss.signalSwitches(text)
			if bf == nil {
				continue
			}
			var m signalMark
			if json.Unmarshal(text, &m) != nil || m.Source != ss.src.cfg.Name || m.ServerID != ss.src.cfg.ServerID || m.Run != bf.run || m.Chunk != bf.chunk {
				continue
			}
			switch m.Mark {
			case "low":
				bf.low = true
			case "high":
				bf.high = bf.InWindow()
			}
		}
	}
}
