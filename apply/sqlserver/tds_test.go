package sqlserver

// Layer 3: the target's error classification over the TDS wire fake
// (test/tdsfake), with the errors go-mssqldb itself makes of the
// server's ERROR tokens, not hand-built ones (errors_test.go).

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/test/tdsfake"
)

// TestLoginRefusedOverTDS: a login the server refuses (18456) stops the
// target's connect terminally; the same target connects when the fake
// accepts it, with SELECT @@VERSION.
func TestLoginRefusedOverTDS(t *testing.T) {
	ctx := context.Background()
	f := tdsfake.New(t, nil)
	f.LoginError = 18456
	tg, err := New(Config{Name: "dwh", DSN: f.DSN()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if _, err := tg.connect(ctx); !retry.IsTerminal(err) {
		t.Errorf("connect with the login refused = %v, want a terminal error", err)
	}

	f = tdsfake.New(t, map[string]tdsfake.Result{"SELECT @@VERSION": {Cols: []tdsfake.Type{tdsfake.NVarchar}, Rows: [][]any{{"Microsoft SQL Server 2022 (fake)"}}}})
	tg, err = New(Config{Name: "dwh", DSN: f.DSN()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if _, err := tg.connect(ctx); err != nil {
		t.Errorf("connect = %v", err)
	}
}

// TestRejectedOverTDS: a constraint violation arrives as 2627 followed by
// 3621 ("The statement has been terminated"), as SQL Server sends them;
// the row is rejected on the first, though go-mssqldb's Error.Number is
// the last. A deadlock (1205) is retried, not rejected.
func TestRejectedOverTDS(t *testing.T) {
	const dup, deadlock = "INSERT INTO [dbo].[t] VALUES (1)", "UPDATE [dbo].[t] SET v = 1"
	f := tdsfake.New(t, map[string]tdsfake.Result{
		dup: {ErrNo: 3621, Msg: "The statement has been terminated.",
			Before: []tdsfake.Result{{ErrNo: 2627, Msg: "Violation of PRIMARY KEY constraint 'pk_t'. Cannot insert duplicate key in object 'dbo.t'."}}},
		deadlock: {ErrNo: 1205, Msg: "Transaction (Process ID 52) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction."},
	})
	db, err := sql.Open("sqlserver", f.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.Exec(dup)
	var me mssql.Error
	if !errors.As(err, &me) || me.Number != 3621 || !refused(err) {
		t.Errorf("duplicate key: %v (number %d): want 3621 last, refused for its 2627", err, me.Number)
	}
	if _, err := db.Exec(deadlock); err == nil || refused(err) {
		t.Errorf("deadlock: %v, want an error that is not refused", err)
	}
}
