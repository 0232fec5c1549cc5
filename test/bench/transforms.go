package main

import (
	"fmt"
	"log"

	"github.com/syncd-dev/syncd/test/testenv"
)

const peopleTable = `CREATE TABLE people (id bigint PRIMARY KEY, full_name text NOT NULL, email text NOT NULL, phone text NOT NULL, ssn text NOT NULL)`

// fiveTransforms is the mapping of the transforms run: a split, a concat,
// a lower, a regex replace and a keyed hash per row.
const fiveTransforms = `
    mapping {
      drop     = ["ssn"]
      hash_key = "bench-hash-key-0123456789"
      column "first_name" { expr = "split(full_name, ' ')[0]" }
      column "display" { expr = "concat(full_name, ' <', email, '>')" }
      column "email_lc" { expr = "lower(email)" }
      column "phone_digits" { expr = "regex_replace(phone, '[^0-9]', '')" }
      column "ssn_hash" { expr = "hmac_sha256(ssn)" }
    }
`

// transformRounds is how often the transforms run measures each scope,
// in alternation.
const transformRounds = 3

// transformCost measures capture (PostgreSQL → JetStream) of the same
// backlog of people rows by a scope without a mapping and by one with
// five transforms per row, each configuration in its own database,
// transformRounds times in alternation; each keeps its best run. It
// returns both rates and their ratio (issue 21: goal ≥ 0.9), and the
// ratio of syncd's CPU time per row, which another load on the machine
// disturbs less.
func transformCost(e *env, pg *testenv.Postgres, bin string, rows, txnRows int) []result {
	best, cpu := map[bool]float64{}, map[bool]float64{}
	for round := range transformRounds {
		for _, mapped := range []bool{false, true} {
			db := fmt.Sprintf("people%d_%v", round, mapped)
			dsn := pg.CreateDB(e, db)
			pg.Exec(e, db, peopleTable)
			mapping := ""
			if mapped {
				mapping = fiveTransforms
			}
			cfg := fmt.Sprintf("source \"postgres\" %q { dsn = %q }\nscope \"people\" {\n  source = %q\n  snapshot = \"never\"\n  table \"public.people\" {%s}\n}\n",
				db, dsn, db, mapping)
			elapsed, cpuSecs := backlogCapture(e, pg, bin, db, cfg, []string{"people"}, rows, func() {
				log.Printf("transforms: mapped=%v, writing %d rows in transactions of %d", mapped, rows, txnRows)
				insertPeople(e, dsn, rows, txnRows)
			})
			rate := float64(rows) / elapsed.Seconds()
			perRow := cpuSecs / float64(rows) * 100_000
			log.Printf("transforms: mapped=%v: %.0f rows/s, %.2f CPU s per 100k rows", mapped, rate, perRow)
			best[mapped] = max(best[mapped], rate)
			if cpu[mapped] == 0 || perRow < cpu[mapped] {
				cpu[mapped] = perRow
			}
		}
	}
	return []result{
		{Name: "capture rows/s, scope without a mapping", Value: best[false], Unit: "rows/s"},
		ratioResult("capture rows/s, scope with five transforms per row", "rows/s", best[true], "rows/s, same scope without", best[false], "ratio ≥ 0.90", 0.90),
		ratioResult("syncd CPU per 100k rows captured, five transforms per row", "CPU s", cpu[true], "CPU s, same scope without", cpu[false], "", 0),
	}
}

func insertPeople(e *env, dsn string, rows, txnRows int) {
	insertRange(e, dsn, rows, txnRows, `INSERT INTO people SELECT g, 'First'||g||' Last'||g, 'User'||g||'@Example.COM',
		'+1 (555) '||lpad(g::text, 7, '0'), md5(g::text) FROM generate_series($1::bigint, $2::bigint) g`)
}
