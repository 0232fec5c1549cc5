package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// tiny waits: the tests inject them, so they sleep microseconds.
var tiny = Policy{Initial: time.Microsecond, Max: 8 * time.Microsecond, ResetAfter: time.Hour}

func TestTerminal(t *testing.T) {
	base := errors.New("no column x")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", base, false},
		{"marked", Terminal(base), true},
		{"wrapped", fmt.Errorf("prepare target: %w", Terminal(base)), true},
		{"joined", errors.Join(errors.New("other"), Terminal(base)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTerminal(tt.err); got != tt.want {
				t.Errorf("IsTerminal(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if Terminal(nil) != nil {
		t.Error("Terminal(nil) is not nil")
	}
	if err := Terminal(base); !errors.Is(err, base) || err.Error() != base.Error() {
		t.Errorf("Terminal(%v) = %v: does not unwrap to it or changed its text", base, err)
	}
}

// A terminal error ends Run at once and is returned; the errors before it
// were retried.
func TestRunStopsOnTerminal(t *testing.T) {
	stop := Terminal(errors.New("table gone"))
	var runs, retries int
	err := tiny.Run(context.Background(), func(context.Context) error {
		runs++
		if runs == 3 {
			return fmt.Errorf("session: %w", stop)
		}
		return errors.New("unreachable")
	}, func(err error, _ time.Duration) {
		retries++
		if err == nil || IsTerminal(err) {
			t.Errorf("onRetry(%v): want the retryable error", err)
		}
	})
	if !errors.Is(err, stop) {
		t.Errorf("Run = %v, want the terminal error", err)
	}
	if runs != 3 || retries != 2 {
		t.Errorf("%d sessions, %d retries; want 3 and 2", runs, retries)
	}
}

// A canceled context ends Run with nil, during a session (whatever it
// returns, terminal included) or during a wait.
func TestRunStopsOnCancel(t *testing.T) {
	t.Run("in session", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		err := tiny.Run(ctx, func(ctx context.Context) error {
			cancel()
			<-ctx.Done()
			return Terminal(ctx.Err())
		}, func(err error, _ time.Duration) { t.Errorf("retried %v after cancel", err) })
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
	t.Run("in wait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		runs := 0
		go func() {
			// An hour's wait: only the cancel can end it.
			done <- Policy{Initial: time.Hour, Max: time.Hour, ResetAfter: time.Hour}.Run(ctx, func(context.Context) error {
				runs++
				return errors.New("unreachable")
			}, func(error, time.Duration) { cancel() })
		}()
		select {
		case err := <-done:
			if err != nil || runs != 1 {
				t.Errorf("Run = %v after %d sessions, want nil after 1", err, runs)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context was canceled")
		}
	})
}

// Waits grow by half up to Max, and start again from Initial after a
// session that ran longer than ResetAfter.
func TestRunBackoff(t *testing.T) {
	p := Policy{Initial: time.Microsecond, Max: 4 * time.Microsecond, ResetAfter: 20 * time.Millisecond}
	const long = 6 // the session that outlasts ResetAfter
	var waits []time.Duration
	runs := 0
	err := p.Run(context.Background(), func(ctx context.Context) error {
		runs++
		switch runs {
		case long:
			t := time.NewTimer(2 * p.ResetAfter)
			defer t.Stop()
			<-t.C
		case long + 2:
			return Terminal(errors.New("done"))
		}
		return errors.New("unreachable")
	}, func(_ error, wait time.Duration) { waits = append(waits, wait) })
	if err == nil {
		t.Fatal("Run = nil, want the terminal error")
	}
	us := time.Microsecond
	want := []time.Duration{us, 1500 * time.Nanosecond, 2250 * time.Nanosecond, 3375 * time.Nanosecond, 4 * us, us, 1500 * time.Nanosecond}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
}
