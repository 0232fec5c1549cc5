package scopes

import "github.com/hashicorp/hcl/v2"

// The HCL schema of each block, as in DESIGN.md §3. Attributes that must be
// present are Required, so HCL reports them missing at the block.

func rootSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "data_dir"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "nats"},
			{Type: "admin"},
			{Type: "source", LabelNames: []string{"kind", "name"}},
			{Type: "target", LabelNames: []string{"kind", "name"}},
			{Type: "scope", LabelNames: []string{"name"}},
			{Type: "template", LabelNames: []string{"name"}},
		},
	}
}

func natsSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "url"},
			{Name: "listen"},
			{Name: "creds"},
			{Name: "user"},
			{Name: "password"},
			{Name: "stream_replicas"},
			{Name: "stream_max_age"},
			{Name: "stream_max_bytes"},
			{Name: "duplicate_window"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "tls"}},
	}
}

func tlsSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "ca_file"}, {Name: "cert_file"}, {Name: "key_file"}},
	}
}

func adminSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "listen"}, {Name: "token_file"}, {Name: "pprof"}}}
}

// sourceSchema returns the schema of a source block of kind, or nil for an
// unknown kind.
func sourceSchema(kind string) *hcl.BodySchema {
	dsn := hcl.AttributeSchema{Name: "dsn", Required: true}
	switch kind {
	case KindPostgres:
		return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{dsn, {Name: "slot"}, {Name: "publication"}, {Name: "snapshot_parallelism"}}}
	case KindMySQL:
		return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{dsn, {Name: "server_id", Required: true}, {Name: "signal_table"}, {Name: "snapshot_parallelism"}}}
	case KindSQLServer:
		return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{dsn, {Name: "poll_interval"}}}
	}
	return nil
}

func targetSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "dsn", Required: true},
			{Name: "scope_info_table"},
			{Name: "create_tables"},
			{Name: "removed_tables"},
			{Name: "same_as"},
		},
	}
}

func scopeSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "source", Required: true},
			{Name: "targets"},
			{Name: "snapshot"},
			{Name: "on_apply_error"},
			{Name: "rows_per_message"},
			{Name: "template"},
			{Name: "params"},
			{Name: "depends_on"},
			{Name: "conflicts"},
			{Name: "seed"},
			{Name: "conflict_column"},
		},
		Blocks: []hcl.BlockHeaderSchema{tableHeader()},
	}
}

func templateSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "params"}},
		Blocks:     []hcl.BlockHeaderSchema{tableHeader()},
	}
}

func tableHeader() hcl.BlockHeaderSchema {
	return hcl.BlockHeaderSchema{Type: "table", LabelNames: []string{"name"}}
}

func tableSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "columns"}, {Name: "where"}, {Name: "target"}, {Name: "conflicts"}, {Name: "conflict_column"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "mapping"}},
	}
}
