package postgres

import (
	"testing"

	"github.com/syncd-dev/syncd/apply/applytest"
)

// The tables of the shared tests (see applytest.Tables).
var items, pairs, logs = applytest.Tables("public")

// suite runs the tests every target must pass against this engine.
var suite = applytest.Suite{NewEnv: suiteEnv, Schema: "public", OpsDDL: opsDDL, StrictDDL: strictDDL}

// opsDDL creates and fills the tables applytest.Ops writes.
const opsDDL = `CREATE TABLE items (id integer PRIMARY KEY, name text, note text, qty integer, extra text DEFAULT 'x');
CREATE TABLE pairs (a integer, b text, v text, PRIMARY KEY (a, b));
CREATE TABLE logs (msg text, n integer);
INSERT INTO items (id, name, note, qty) VALUES (1, 'one', 'big note', 10), (2, 'two', NULL, 20);
INSERT INTO pairs VALUES (1, 'x', 'old');
INSERT INTO logs VALUES ('dup', 1), ('dup', 1), ('other', 2)`

func TestApplyOps(t *testing.T) { suite.Ops(t) }

func TestApplyGroups(t *testing.T) { suite.Groups(t) }

func TestProbeAll(t *testing.T) { suite.ProbeAll(t) }

func TestSendProbe(t *testing.T) { suite.SendProbe(t) }

func TestSendProbeInserts(t *testing.T) { suite.SendProbeInserts(t) }
