package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/syncd-dev/syncd/capture"
)

// scopesDoc is the part of the /scopes document (see scopeStatus) that
// renderScopes shows.
type scopesDoc struct {
	NATS    natsReport    `json:"nats"`
	Sources []sourceView  `json:"sources"`
	Scopes  []scopeReport `json:"scopes"`
}

// sourceView is a sourceReport with the status fields that the
// PostgreSQL and MySQL sources share (Status shadows sourceReport.Status).
type sourceView struct {
	sourceReport
	Status struct {
		SnapshotsPending int                       `json:"snapshots_pending"`
		Snapshot         *capture.SnapshotProgress `json:"snapshot"`
	} `json:"status"`
}

// barWidth is the number of cells of a snapshot's progress bar.
const barWidth = 30

// renderScopes returns doc as text for a terminal: NATS, a table of
// sources, a table of scopes with a row per apply worker, and a progress
// bar per snapshot in progress, its ETA computed at now from the rate
// since the copy started.
func renderScopes(doc scopesDoc, now time.Time) string {
	var b strings.Builder
	nats := "connected"
	if !doc.NATS.Connected {
		nats = "not connected: " + doc.NATS.State
	}
	fmt.Fprintf(&b, "NATS %s\n", nats)
	if doc.NATS.DurabilityRisk != "" {
		fmt.Fprintf(&b, "  durability risk: %s\n", doc.NATS.DurabilityRisk)
	}

	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tKIND\tSTATE\tERROR")
	for _, s := range doc.Sources {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Kind, s.State, s.Error)
	}
	tw.Flush()

	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCOPE\tSTATE\tTARGET\tWORKER\tLAG\tAPPLIED\tPARKED\tDETAIL")
	for _, sc := range doc.Scopes {
		head, pubErr := sc.Name+"\t"+scopeState(sc, now), ""
		if sc.Publish != nil {
			pubErr = sc.Publish.Error
		}
		if len(sc.Apply) == 0 {
			fmt.Fprintf(tw, "%s\t-\t\t\t\t\t%s\n", head, pubErr)
		}
		for _, a := range sc.Apply {
			detail := a.Error
			if len(a.WaitingFor) > 0 {
				detail = "waiting for " + strings.Join(a.WaitingFor, ", ")
			}
			if a.Conflicts > 0 {
				detail = strings.TrimSuffix(fmt.Sprintf("%d conflicts; %s", a.Conflicts, detail), "; ")
			}
			if pubErr != "" {
				detail = strings.TrimSuffix(pubErr+"; "+detail, "; ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fs\t%d\t%d\t%s\n", head, a.Target, a.State, a.LagSeconds, a.RowsApplied, a.Parked, detail)
			head, pubErr = "\t", "" // the scope's columns only on its first row
		}
	}
	tw.Flush()

	snapshots := false
	for _, s := range doc.Sources {
		p := s.Status.Snapshot
		if p == nil {
			continue
		}
		if !snapshots {
			b.WriteString("\nSNAPSHOTS\n")
			snapshots = true
		}
		fmt.Fprintf(&b, "%s %s (source %s", p.Scope, p.Table, s.Name)
		if n := s.Status.SnapshotsPending; n > 0 {
			fmt.Fprintf(&b, ", %d more tables to copy", n)
		}
		fmt.Fprintf(&b, ")\n  %s\n", progressLine(*p, now))
	}
	return b.String()
}

// scopeState is paused (for how long at now), publishing, publish failed
// or not publishing (its source is not streaming).
func scopeState(sc scopeReport, now time.Time) string {
	switch {
	case sc.Paused && sc.PausedSince != nil:
		return "paused for " + now.Sub(*sc.PausedSince).Round(time.Second).String()
	case sc.Paused:
		return "paused"
	case sc.Publish == nil:
		return "not publishing"
	case sc.Publish.Error != "":
		return "publish failed"
	}
	return "publishing"
}

// progressLine is a snapshot's bar, rows done / estimated, percent and
// ETA; without an estimate, only the rows done.
func progressLine(p capture.SnapshotProgress, now time.Time) string {
	if p.Estimate <= 0 {
		return fmt.Sprintf("%d rows, no estimate", p.Rows)
	}
	filled := min(barWidth, int(p.Percent*barWidth/100))
	bar := "[" + strings.Repeat("#", filled) + strings.Repeat("-", barWidth-filled) + "]"
	eta := "ETA -"
	if elapsed := now.Sub(p.Started); p.Rows > 0 && p.Rows < p.Estimate && elapsed > 0 {
		left := time.Duration(float64(elapsed) * float64(p.Estimate-p.Rows) / float64(p.Rows))
		eta = "ETA " + left.Round(time.Second).String()
	}
	return fmt.Sprintf("%s %d / %d rows  %.1f%%  %s", bar, p.Rows, p.Estimate, p.Percent, eta)
}
