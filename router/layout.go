package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/scopes"
)

// Stream layout. A scope from a template publishes to the stream that
// the scopes of its template with the same source share,
// SYNCD_<TEMPLATE>@<SOURCE> (TemplateStreamName); any other scope to a
// stream of its own, SYNCD_<SCOPE> (StreamName). The subjects are the same
// either way, syncd.<scope>.…, so a subscriber filters by subject and finds
// the stream by subject (Conn.ScopeStream). A scope keeps the stream that
// holds its subjects already, whatever the layout would give it now: a
// spoke published before template streams existed stays on its own stream,
// as its targets' checkpoints are sequences of that stream.

// TemplateStreamName returns the stream that the scopes of template whose
// source is source share: SYNCD_<TEMPLATE>@<SOURCE>. No scope, template or
// source name holds '@', so it is never a scope's own stream name, and it
// maps back.
func TemplateStreamName(template, source string) string {
	return "SYNCD_" + strings.ToUpper(template) + "@" + strings.ToUpper(source)
}

// StreamFor returns the stream a scope that has none yet is given:
// TemplateStreamName for a scope from a template, StreamName otherwise.
func StreamFor(s *scopes.Scope) string {
	if s.Template != "" {
		return TemplateStreamName(s.Template, s.Source)
	}
	return StreamName(s.Name)
}

// scopeMarker is the subject by which a scope's stream is found: every
// stream lists it literally for each of its scopes (streamSubjects), and
// nothing is stored on it.
func scopeMarker(scope string) string { return ReservedSubject(scope, TokenBatch) }

// existingStreams lists the streams that hold syncd subjects: the stream
// of each scope that has one, and each stream's subjects.
func existingStreams(ctx context.Context, js jetstream.JetStream) (byScope map[string]string, subjects map[string][]string, err error) {
	byScope, infos, err := listStreams(ctx, js, SubjectPrefix+".>")
	if err != nil {
		return nil, nil, err
	}
	subjects = map[string][]string{}
	for name, info := range infos {
		subjects[name] = info.Config.Subjects
	}
	return byScope, subjects, nil
}

// listStreams lists the streams that hold a subject of filter: the stream
// of each scope that has one, and each stream's info, by name.
func listStreams(ctx context.Context, js jetstream.JetStream, filter string) (byScope map[string]string, infos map[string]*jetstream.StreamInfo, err error) {
	byScope, infos = map[string]string{}, map[string]*jetstream.StreamInfo{}
	l := js.ListStreams(ctx, jetstream.WithStreamListSubject(filter))
	for info := range l.Info() {
		infos[info.Config.Name] = info
		for _, subj := range info.Config.Subjects {
			if scope, ok := strings.CutSuffix(subj, "."+TokenBatch); ok {
				byScope[strings.TrimPrefix(scope, SubjectPrefix+".")] = info.Config.Name
			}
		}
	}
	if err := l.Err(); err != nil {
		return nil, nil, fmt.Errorf("list streams: %w", err)
	}
	return byScope, infos, nil
}

// streamGroup is a stream and the scopes, of one router, that publish to
// it.
type streamGroup struct {
	name   string
	scopes []*scopes.Scope
	// subjects are the stream's subjects: those it has (of scopes that
	// may be elsewhere now, or gone: their messages stay) and those of
	// scopes.
	subjects []string
	desc     string
}

// groupStreams places each scope of list on its stream: the one that
// holds its subjects, or StreamFor. Groups are in the order of their first
// scope in list. It fails for a scope whose subjects are in the stream of
// a template's spokes from another source: one stream takes one source's
// router only, as every batch asserts the stream's last sequence.
func groupStreams(list []*scopes.Scope, byScope map[string]string, subjects map[string][]string) ([]*streamGroup, error) {
	var out []*streamGroup
	index := map[string]*streamGroup{}
	for _, s := range list {
		name, ok := byScope[s.Name]
		if !ok {
			name = StreamFor(s)
		}
		if i := strings.LastIndexByte(name, '@'); i >= 0 && name[i+1:] != strings.ToUpper(s.Source) {
			return nil, fmt.Errorf("place scope %s: its messages are in stream %s, which the spokes of another source share; a scope from a template cannot change its source: give it a new name", s.Name, name)
		}
		g := index[name]
		if g == nil {
			g = &streamGroup{name: name, subjects: slices.Clone(subjects[name]), desc: "syncd scope " + s.Name}
			if name != StreamName(s.Name) {
				g.desc = fmt.Sprintf("syncd scopes of template %s from source %s", s.Template, s.Source)
			}
			index[name] = g
			out = append(out, g)
		}
		g.scopes = append(g.scopes, s)
		for _, subj := range streamSubjects(s.Name) {
			if !slices.Contains(g.subjects, subj) {
				g.subjects = append(g.subjects, subj)
			}
		}
	}
	return out, nil
}

// ErrNoStream means a scope has no stream yet.
var ErrNoStream = errors.New("no stream")

// ScopeStream returns the name of the stream that holds scope's messages,
// found by subject, or an error wrapping ErrNoStream.
func (c *Conn) ScopeStream(ctx context.Context, scope string) (string, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return "", fmt.Errorf("open jetstream: %w", err)
	}
	return scopeStream(ctx, js, scope)
}

// ScopeStreams returns the name of the stream of each scope that has one,
// by scope, from one listing of the streams: ScopeStream for many scopes.
func (c *Conn) ScopeStreams(ctx context.Context) (map[string]string, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	byScope, _, err := listStreams(ctx, js, SubjectPrefix+".>")
	return byScope, err
}

func scopeStream(ctx context.Context, js jetstream.JetStream, scope string) (string, error) {
	name, err := js.StreamNameBySubject(ctx, scopeMarker(scope))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return "", fmt.Errorf("find stream of scope %s: %w", scope, ErrNoStream)
	}
	if err != nil {
		return "", fmt.Errorf("find stream of scope %s: %w", scope, err)
	}
	return name, nil
}

// openScopeStream opens the stream that holds scope's messages.
func openScopeStream(ctx context.Context, js jetstream.JetStream, scope string) (jetstream.Stream, error) {
	name, err := scopeStream(ctx, js, scope)
	if err != nil {
		return nil, err
	}
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("open stream %s of scope %s: %w", name, scope, ErrNoStream)
	}
	if err != nil {
		return nil, fmt.Errorf("open stream %s of scope %s: %w", name, scope, err)
	}
	return s, nil
}

// RowSubjects returns the subject filter of a scope's row changes, from
// every source: syncd.<scope>.*.*.*.*.
func RowSubjects(scope string) string { return SubjectPrefix + "." + scope + ".*.*.*.*" }
