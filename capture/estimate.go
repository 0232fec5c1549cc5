package capture

// RowCount is how many rows of a source table match a filter, for syncd
// plan: counted exactly on small tables, estimated by the query planner
// on large ones.
type RowCount struct {
	Rows  int64 `json:"rows"`
	Exact bool  `json:"exact"`
}

// ExactCountBelow is the table size, in rows by the catalog's statistics,
// under which RowCount is counted rather than estimated.
const ExactCountBelow = 100_000
