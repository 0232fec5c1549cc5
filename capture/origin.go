package capture

import "strings"

// Origins of the transactions syncd applies.
//
// An apply worker marks every transaction it writes with an origin that
// names the database the changes came from (the scope's source), the
// scope and the target: "syncd:<source>:<scope>:<target>" (PostgreSQL: a replication origin of
// that name on the apply session; MariaDB and MySQL: see apply/mysql). A
// capture engine that reads such a transaction back records the mark in
// Txn.Origin, and OriginSource tells the database it came from, so that
// no change is applied to the database it came from (the router does not
// publish it to a scope whose targets are that database, and an apply
// worker skips it).
//
// The origin names the immediate neighbour, the database a change was
// applied from, not the database it was first written at: a hub forwards
// a spoke's change to the other spokes, marked as the hub's, and each
// spoke's way back to the hub drops it. That is loop-free on any tree of
// databases (a pair, a hub with spokes, a chain); a cycle of three or more
// databases linked both ways would pass a change round, and is refused by
// the config's validation.
const originPrefix = "syncd:"

// SyncdOrigin returns the origin with which the apply worker of (scope,
// target) marks the changes it applies from source. Each worker has its
// own: a PostgreSQL replication origin is held by one session at a time.
func SyncdOrigin(source, scope, target string) string {
	return originPrefix + source + ":" + scope + ":" + target
}

// ParseOrigin splits an origin SyncdOrigin made; ok is false for any
// other.
func ParseOrigin(origin string) (source, scope, target string, ok bool) {
	rest, ok := strings.CutPrefix(origin, originPrefix)
	if !ok {
		return "", "", "", false
	}
	source, rest, ok1 := strings.Cut(rest, ":")
	scope, target, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || source == "" || scope == "" {
		return "", "", "", false
	}
	return source, scope, target, true
}

// OriginSource returns the source named in origin, a Txn.Origin, if syncd
// set it (SyncdOrigin); "" for the origins of anything else (PostgreSQL's
// own logical replication, say) and for none.
func OriginSource(origin string) string {
	source, _, _, _ := ParseOrigin(origin)
	return source
}
