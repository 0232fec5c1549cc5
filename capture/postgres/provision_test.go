package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
	"github.com/syncd-dev/syncd/test/testenv/positions"
)

// TestUnprovision checks that Unprovision drops the slot and publication
// that Prepare created and puts the slot record back as Prepare found it,
// and that it leaves alone what existed before Prepare.
func TestUnprovision(t *testing.T) {
	pg := testenv.StartPostgres(t)
	store := positions.Start(t)
	ctx := context.Background()
	// prepared returns a Source of database db that Prepare has run on.
	prepared := func(t *testing.T, db, slot string) *Source {
		t.Helper()
		src, err := New(Config{
			Name: db, DSN: pg.DSN(db), Slot: slot, Publication: "p_" + db, Store: store,
			Tables: []capture.TableSpec{{ID: capture.TableID{Schema: "public", Name: "t"}}},
		}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := src.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		return src
	}
	newDB := func(t *testing.T, db string) {
		t.Helper()
		pg.CreateDB(t, db)
		pg.Exec(t, db, `CREATE TABLE t (id int PRIMARY KEY)`)
	}

	t.Run("created", func(t *testing.T) {
		newDB(t, "fresh")
		src := prepared(t, "fresh", "s_fresh")
		if err := src.Unprovision(ctx); err != nil {
			t.Fatal(err)
		}
		wantServer(t, pg.DSN("fresh"), "s_fresh", "p_fresh", false)
		wantRecord(t, store, "fresh", "")
	})
	t.Run("existed before", func(t *testing.T) {
		newDB(t, "kept")
		prepared(t, "kept", "s_kept")
		before := loadRecord(t, store, "kept")
		if err := prepared(t, "kept", "s_kept").Unprovision(ctx); err != nil {
			t.Fatal(err)
		}
		wantServer(t, pg.DSN("kept"), "s_kept", "p_kept", true)
		wantRecord(t, store, "kept", before)
	})
	t.Run("record of another slot", func(t *testing.T) {
		// The source's slot was renamed: Prepare makes the new slot
		// and records it over the record of the old one.
		newDB(t, "renamed")
		prepared(t, "renamed", "s_old")
		before := loadRecord(t, store, "renamed")
		if err := prepared(t, "renamed", "s_new").Unprovision(ctx); err != nil {
			t.Fatal(err)
		}
		wantServer(t, pg.DSN("renamed"), "s_new", "", false)
		wantServer(t, pg.DSN("renamed"), "s_old", "p_renamed", true)
		wantRecord(t, store, "renamed", before)
	})
}

// wantServer fails the test unless slot and publication pub (if not "")
// both exist (want) or both do not.
func wantServer(t *testing.T, dsn, slot, pub string, want bool) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var slots, pubs int
	err = conn.QueryRow(context.Background(), `
SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1),
       (SELECT count(*) FROM pg_publication WHERE pubname = $2)`, slot, pub).Scan(&slots, &pubs)
	if err != nil {
		t.Fatal(err)
	}
	if n := map[bool]int{true: 1, false: 0}[want]; slots != n || (pub != "" && pubs != n) {
		t.Errorf("slot %s: %d, publication %q: %d; want %d each", slot, slots, pub, pubs, n)
	}
}

func loadRecord(t *testing.T, store capture.Store, source string) string {
	t.Helper()
	b, err := store.Load(context.Background(), source)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantRecord fails the test unless source's record is want ("" for none).
func wantRecord(t *testing.T, store capture.Store, source, want string) {
	t.Helper()
	got := loadRecord(t, store, source)
	if got != want {
		t.Errorf("record of source %s: %q, want %q", source, got, want)
	}
}
