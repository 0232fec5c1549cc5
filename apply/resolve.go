package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// apply applies c, row i of d, in tx. In a two-way scope (Config.TwoWay)
// it first reads the target's row of c's key, and a conflict is
// recorded (metrics, status, syncd.<scope>._conflict) and settled by the
// table's policy, or the scope's seed rule for a row of its first copy
// (SeedRule), which may keep the target's row and skip c. A truncate has
// no row to compare: it empties the table at the target as in a one-way
// scope (docs/configuration.md, Two-way sync).
func (s *session) apply(ctx context.Context, tx Tx, c *Change, d *router.Delivery, i int) error {
	w := s.w
	if !w.cfg.TwoWay || c.Op == capture.OpTruncate {
		return tx.Apply(ctx, c)
	}
	p, ok := tx.(Prober)
	if !ok {
		return fmt.Errorf("%w: target %s cannot detect conflicts, which two-way scope %s needs", errFailed, w.cfg.Target, w.cfg.Scope.Name)
	}
	pol, col := s.prepareTwoWay(c, d.Rows[i])
	probe, err := p.Probe(ctx, c, col)
	if err != nil {
		return err
	}
	return s.settle(ctx, tx, c, d, i, pol, probe)
}

// prepareTwoWay returns the conflict policy of the table of c, whose
// envelope is env, and the column its probe reads (the newest_column
// policy's, else none); under newer_wins it sets c.Committed to env's
// commit time, which the probe compares and Apply stamps. Both the single
// probe (apply) and the batched one (applyTwoWay) take c through here.
func (s *session) prepareTwoWay(c *Change, env *router.RawEnvelope) (pol scopes.Conflicts, col string) {
	pol = s.policy(capture.TableID{Schema: env.Source.Schema, Name: env.Source.Table})
	switch pol.Policy {
	case scopes.ConflictNewestColumn:
		col = pol.Column
	case scopes.ConflictNewerWins:
		c.Committed = env.Source.CommitTS
	}
	return pol, col
}

// settle applies c, row i of d, in tx, whose probe at the target is
// probe: as it is, or, if it meets a conflict, as policy pol settles it,
// after recording the conflict.
func (s *session) settle(ctx context.Context, tx Tx, c *Change, d *router.Delivery, i int, pol scopes.Conflicts, probe Probe) error {
	w := s.w
	kind := Classify(c, probe)
	if kind == "" {
		if probe.Written {
			return nil
		}
		return tx.Apply(ctx, c)
	}
	apply, outcome := Resolve(pol, kind, c, probe, w.cfg.Scope.Source < w.cfg.Self)
	rule := pol.Policy
	if a, o, ok := SeedRule(w.cfg.Scope, c); ok {
		apply, outcome, rule = a, o, RuleSeed
	}
	if err := s.record(ctx, c, d, i, kind, rule, outcome, probe); err != nil {
		return err
	}
	if !apply {
		return nil
	}
	return tx.Apply(ctx, c)
}

// policy returns the conflict policy of a source table of the scope.
func (s *session) policy(id capture.TableID) scopes.Conflicts {
	sc := s.w.cfg.Scope
	for _, t := range sc.Tables {
		if t.ID == id {
			return scopes.ConflictsOf(sc, t)
		}
	}
	return sc.Conflicts
}

// record counts a conflict, publishes it on syncd.<scope>._conflict and
// logs it.
func (s *session) record(ctx context.Context, c *Change, d *router.Delivery, i int, kind, rule, outcome string, p Probe) error {
	w := s.w
	table := c.Table.Target.String()
	cf := router.Conflict{
		Scope: w.cfg.Scope.Name, Target: w.cfg.Target, Table: table, Kind: kind, Rule: rule, Outcome: outcome,
		Base: rawRow(c.Before), Source: rawRow(c.After), TargetRow: p.Row,
		StreamSeq: d.StreamSeq, Message: d.Data, At: time.Now().UTC(),
	}
	if router.IsPack(d.Data) {
		row, err := json.Marshal(d.Rows[i])
		if err != nil {
			return fmt.Errorf("record conflict of row %d of message %d: %w", i, d.StreamSeq, err)
		}
		cf.Message, cf.Row = row, i+1
	}
	if err := w.conn.PublishConflict(ctx, cf, w.cfg.Streams); err != nil {
		return err
	}
	w.metrics.Conflicts.WithLabelValues(w.cfg.Scope.Name, w.cfg.Target, table, kind).Inc()
	w.update(func(st *Status) {
		st.Conflicts++
		if outcome == Parked {
			st.Degraded = true
		}
	})
	w.log.Info("conflict", "table", table, "kind", kind, "rule", rule, "outcome", outcome, "stream_seq", d.StreamSeq)
	return nil
}

// rawRow returns row as JSON, or nil for none.
func rawRow(row map[string]json.RawMessage) json.RawMessage {
	if row == nil {
		return nil
	}
	b, _ := json.Marshal(row)
	return b
}
