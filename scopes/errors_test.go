package scopes_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/scopes"
)

// TestLoadErrors loads each file in testdata/errors, which holds the
// mistakes of one kind, and checks every diagnostic line. $DIR stands for
// the absolute path of testdata/errors.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		file string
		opts scopes.LoadOptions
		want []string
	}{
		{
			file: "admin_empty_token.hcl",
			want: []string{
				`testdata/errors/admin_empty_token.hcl:3:16: error: Empty admin token: The token_file $DIR/empty.token is empty; write a random token into it, such as the output of ` + "`openssl rand -hex 32`" + `.`,
			},
		},
		{
			file: "admin_missing_token.hcl",
			want: []string{
				`testdata/errors/admin_missing_token.hcl:3:16: error: Cannot read token_file: Read secret file: open $DIR/no-such.token: no such file or directory.`,
			},
		},
		{
			file: "admin_missing_token.hcl",
			opts: scopes.LoadOptions{AllowMissingSecrets: true},
			want: []string{
				`testdata/errors/admin_missing_token.hcl:3:16: warning: Secret not available: Read secret file: open $DIR/no-such.token: no such file or directory; using no token, which is only allowed when validating.`,
			},
		},
		{
			file: "admin_no_token.hcl",
			want: []string{
				`testdata/errors/admin_no_token.hcl:1:1: error: Admin server without a token: The admin server listens on ":7070", which is not a loopback address: set token_file to require a bearer token, or listen on 127.0.0.1.`,
				`testdata/errors/admin_no_token.hcl:3:12: error: Unsuitable value type: Unsuitable value: a bool is required`,
			},
		},
		{
			file: "depends_on.hcl",
			want: []string{
				`testdata/errors/depends_on.hcl:14:22: error: Scope depends on itself: Scope "b" lists itself in depends_on.`,
				`testdata/errors/depends_on.hcl:20:17: error: Dependency cycle: Scope "c" depends on itself through depends_on: c → a → b → c. Remove one of these dependencies.`,
				`testdata/errors/depends_on.hcl:20:22: error: Unknown scope: Scope "c" refers to scope "productz", which is not defined; defined scopes: "a", "b", "c" and "d".`,
				`testdata/errors/depends_on.hcl:20:34: warning: Dependency without a common target: Scope "c" depends on "d", but they share no target, so the dependency orders nothing: depends_on holds a scope back at each target until its dependencies have applied their initial snapshots there.`,
				`testdata/errors/depends_on.hcl:20:39: error: Duplicate dependency: Scope "c" lists dependency "a" twice.`,
			},
		},
		{
			file: "same_as.hcl",
			want: []string{
				`testdata/errors/same_as.hcl:22:13: error: Different engines: Target "tm" is a postgres database, but source "m", which it is declared the same as, is a mysql one.`,
				`testdata/errors/same_as.hcl:26:13: error: Unknown source: Target "tx" is declared the same database as source "nope", which is not defined.`,
				`testdata/errors/same_as.hcl:28:1: error: Two-way scope with a snapshot and no seed: Scope "ab" syncs both ways and copies its tables at the first start, when both databases may hold rows: set seed to the source whose rows win where both hold a key with other values ("a" or the other side's), or to "merge" to settle them by the conflict policy; or set snapshot = "never" to start from tables that agree.`,
				`testdata/errors/same_as.hcl:28:1: error: Conflict policies disagree: Scopes "ab" and "ba" sync table public.t both ways, with conflicts "source_wins" and "newest_column": the sides would not converge. Use the same policy both ways, or source_wins one way and target_wins the other.`,
				`testdata/errors/same_as.hcl:28:1: error: Conflict policies disagree: Scopes "ab" and "ba" sync table public.u both ways, with conflicts "source_wins" and "newest_column": the sides would not converge. Use the same policy both ways, or source_wins one way and target_wins the other.`,
				`testdata/errors/same_as.hcl:33:3: error: Mapping in a two-way scope without a reverse: Scope "ab" maps table public.u to public.u, and scope "ba" syncs it back, but the mapping computes, drops or folds columns, which cannot be inverted: declare the reverse in a mapping block of table public.u in scope "ba" (docs/configuration.md, Two-way sync).`,
				`testdata/errors/same_as.hcl:39:1: error: Two-way scope with a snapshot and no seed: Scope "ba" syncs both ways and copies its tables at the first start, when both databases may hold rows: set seed to the source whose rows win where both hold a key with other values ("b" or the other side's), or to "merge" to settle them by the conflict policy; or set snapshot = "never" to start from tables that agree.`,
				`testdata/errors/same_as.hcl:42:15: error: Missing conflict_column: The newest_column policy compares a column, such as updated_at: set conflict_column.`,
				`testdata/errors/same_as.hcl:51:1: error: Cycle of linked databases: Scope "ca" links source "c" to target "ta" (the same database as source "a"), which are linked already through other scopes: a change would travel round the cycle for ever. Link the databases as a tree (a pair, or a hub with spokes).`,
				`testdata/errors/same_as.hcl:56:1: error: Scope applied to its own source: Scope "self" reads source "a" and is applied to target "ta", which is the same database (same_as); remove the target from the scope.`,
			},
		},
		{
			file: "newer_wins.hcl",
			want: []string{
				`testdata/errors/newer_wins.hcl:21:17: error: newer_wins needs PostgreSQL: Scope "am" resolves conflicts with newer_wins, which compares the commit time of each row's last change; target tm is mysql, which keeps no commit time per row. Use newest_column with a column the writers set, such as updated_at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6).`,
				`testdata/errors/newer_wins.hcl:28:15: error: newer_wins needs PostgreSQL: Scope "ma" resolves conflicts with newer_wins, which compares the commit time of each row's last change; source m is mysql, which keeps no commit time per row. Use newest_column with a column the writers set, such as updated_at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6).`,
			},
		},
		{
			file: "seed.hcl",
			want: []string{
				`testdata/errors/seed.hcl:25:15: error: Unknown seed: Scope "ab" syncs source "a" both ways: seed must name it or the source its target is the same database as, or be "merge"; not "c".`,
				`testdata/errors/seed.hcl:33:15: error: Seed without a snapshot: Scope "ba" has snapshot = "never", so nothing is copied at the first start and seed has no use: remove it, or set snapshot = "initial".`,
				`testdata/errors/seed.hcl:38:13: error: Seed in a one-way scope: Scope "bx" does not sync both ways, and seed says how the two sides of a two-way scope are merged at the first start: remove it.`,
				`testdata/errors/seed.hcl:53:15: error: Seed rules disagree: Scopes "cd" and "dc" sync both ways with seed "c" and "merge": the sides would keep different rows. Use the same seed in both.`,
			},
		},
		{
			file: "duplicate_names.hcl",
			want: []string{
				`testdata/errors/duplicate_names.hcl:2:16: error: Duplicate source: A source named "app" is already defined at testdata/errors/duplicate_names.hcl:1,1-24.`,
				`testdata/errors/duplicate_names.hcl:7:19: error: Duplicate target: A target named "replica" is already defined at testdata/errors/duplicate_names.hcl:6,1-28.`,
				`testdata/errors/duplicate_names.hcl:11:10: error: Duplicate template: A template named "t" is already defined at testdata/errors/duplicate_names.hcl:8,1-13.`,
				`testdata/errors/duplicate_names.hcl:18:7: error: Duplicate scope: A scope named "s" is already defined at testdata/errors/duplicate_names.hcl:14,1-10.`,
			},
		},
		{
			file: "mapping.hcl",
			want: []string{
				`testdata/errors/mapping.hcl:6:18: error: Invalid auto: The auto must be "exact", "fold" or "none", not "loose".`,
				`testdata/errors/mapping.hcl:7:18: error: Short hash key: The hash_key of table "public.customers" in scope "crm" must be at least 16 bytes; read it with env(...) or file(...).`,
				`testdata/errors/mapping.hcl:9:59: error: Invalid expression: The expression of column "first_name" of table "public.customers" in scope "crm" is invalid: unexpected token EOF.`,
				`testdata/errors/mapping.hcl:10:42: error: Invalid expression: The expression of column "last_name" of table "public.customers" in scope "crm" is invalid: unknown function nosuch.`,
				`testdata/errors/mapping.hcl:11:7: error: Invalid mapping column: In the mapping of table "public.customers" in scope "crm", target column "ssn" takes source column "ssn", which drop lists.`,
				`testdata/errors/mapping.hcl:12:32: error: Invalid expression: The expression of column "stamp" of table "public.customers" in scope "crm" is invalid: unknown function now.`,
				`testdata/errors/mapping.hcl:13:7: error: Invalid mapping column: In the mapping of table "public.customers" in scope "crm", target column "x" has both from and expr; use one.`,
				`testdata/errors/mapping.hcl:21:5: error: Mapping and columns: Table "public.orders" in scope "crm" has both columns and a mapping; list the columns to leave out in the mapping's drop.`,
			},
		},
		{
			file: "mapping_missing_key.hcl",
			opts: scopes.LoadOptions{AllowMissingSecrets: true},
			want: []string{
				`testdata/errors/mapping_missing_key.hcl:6:18: warning: Secret not available: Environment variable "SYNCD_TEST_UNSET_HASH_KEY" is not set; using an empty string, which is only allowed when validating.`,
			},
		},
		{
			file: "enums.hcl",
			want: []string{
				`testdata/errors/enums.hcl:4:20: error: Invalid snapshot: The snapshot must be "initial", "when_needed" or "never", not "always".`,
				`testdata/errors/enums.hcl:5:20: error: Invalid on_apply_error: The on_apply_error must be "stop" or "dlq", not "ignore".`,
				`testdata/errors/enums.hcl:6:22: error: Invalid rows_per_message: The rows_per_message must be between 1 and 1000, not 5000.`,
				`testdata/errors/enums.hcl:11:20: error: Invalid removed_tables: The removed_tables must be "keep" or "empty", not "truncate".`,
			},
		},
		{
			file: "invalid_names.hcl",
			want: []string{
				`testdata/errors/invalid_names.hcl:1:19: error: Invalid source name: The source name "App" must start with a lowercase letter and have at most 63 lowercase letters, digits, '_' and '-'.`,
				`testdata/errors/invalid_names.hcl:2:19: error: Invalid target name: The target name "re.plica" must start with a lowercase letter and have at most 63 lowercase letters, digits, '_' and '-'.`,
				`testdata/errors/invalid_names.hcl:3:7: error: Invalid scope name: The scope name "sales wa" must start with a lowercase letter and have at most 63 lowercase letters, digits, '_' and '-'.`,
				`testdata/errors/invalid_names.hcl:7:7: error: Invalid scope name: The scope name "a_very_long_scope_name_that_goes_on_and_on_well_past_sixty_three_chars" must start with a lowercase letter and have at most 63 lowercase letters, digits, '_' and '-'.`,
			},
		},
		{
			file: "nats.hcl",
			want: []string{
				`testdata/errors/nats.hcl:1:1: error: Incomplete NATS credentials: Set both user and password, or neither.`,
				`testdata/errors/nats.hcl:3:3: warning: Listen address ignored: The listen address is for the embedded NATS server, which does not run when url is set.`,
				`testdata/errors/nats.hcl:4:3: error: Conflicting NATS credentials: Use either creds or user and password, not both.`,
				`testdata/errors/nats.hcl:6:22: error: Invalid stream_replicas: JetStream streams have 1 to 5 replicas, not 7.`,
				`testdata/errors/nats.hcl:8:22: error: Invalid duplicate_window: The duplicate_window (2h0m0s) must not exceed stream_max_age (1h0m0s).`,
				`testdata/errors/nats.hcl:9:22: error: Invalid stream_max_bytes: The stream_max_bytes must be 0 (no limit) or more, not -1.`,
				`testdata/errors/nats.hcl:10:3: error: Incomplete TLS key pair: Set both cert_file and key_file, or neither.`,
				`testdata/errors/nats.hcl:14:1: error: Duplicate nats block: Only one nats block is allowed; the first is at testdata/errors/nats.hcl:1,1-5.`,
				`testdata/errors/nats.hcl:15:18: error: Invalid listen address: The listen address must be host:port, such as "127.0.0.1:7070", not "7070".`,
				`testdata/errors/nats.hcl:16:12: error: Empty data_dir: The data_dir must not be empty.`,
			},
		},
		{
			file: "nats_window.hcl",
			want: []string{
				`testdata/errors/nats_window.hcl:2:22: error: Invalid duplicate_window: The duplicate_window must be at least 100ms (JetStream's minimum), not 10ms.`,
			},
		},
		{
			file: "no_sources.hcl",
			want: []string{
				`testdata/errors/no_sources.hcl:2:12: error: Unknown source: Scope "products" refers to source "app", but no sources are defined.`,
			},
		},
		{
			file: "postgres_names.hcl",
			want: []string{
				`testdata/errors/postgres_names.hcl:3:17: error: Invalid slot name: The slot name "Syncd-App" must have 1 to 63 lowercase letters, digits and '_'.`,
				`testdata/errors/postgres_names.hcl:4:17: error: Invalid publication name: The publication name "" must have 1 to 63 lowercase letters, digits and '_'.`,
				`testdata/errors/postgres_names.hcl:6:19: error: Invalid default slot name: The default slot name "syncd_a_very_long_source_name_that_still_fits_the_sixty_three_limit" is longer than 63 characters; set slot explicitly.`,
				`testdata/errors/postgres_names.hcl:6:19: error: Invalid default publication name: The default publication name "syncd_a_very_long_source_name_that_still_fits_the_sixty_three_limit" is longer than 63 characters; set publication explicitly.`,
			},
		},
		{
			file: "scope_shape.hcl",
			want: []string{
				`testdata/errors/scope_shape.hcl:7:3: error: Template and tables: Scope "both" uses a template and also has table blocks; use one or the other.`,
				`testdata/errors/scope_shape.hcl:10:1: error: Scope without tables: Scope "none" has no tables; add table blocks or use a template.`,
				`testdata/errors/scope_shape.hcl:15:3: error: Params without a template: Scope "params_only" sets params but uses no template; params fill in a template's where filters.`,
				`testdata/errors/scope_shape.hcl:18:19: error: Missing required argument: The argument "source" is required, but no definition was found.`,
			},
		},
		{
			file: "scope_where_param.hcl",
			want: []string{
				`testdata/errors/scope_where_param.hcl:4:36: error: Param outside a template: The where of table "public.product" in scope "products" uses :category; params can only be used in templates.`,
			},
		},
		{
			file: "secrets.hcl",
			want: []string{
				`testdata/errors/secrets.hcl:1:33: error: Error in function call: Call to function "env" failed: environment variable "SYNCD_TEST_UNSET" is not set.`,
				`testdata/errors/secrets.hcl:3:11: error: Error in function call: Call to function "file" failed: read secret file: open $DIR/no-such.creds: no such file or directory.`,
			},
		},
		{
			file: "source_settings.hcl",
			want: []string{
				`testdata/errors/source_settings.hcl:1:8: error: Unknown source kind: The source kind "oracle" is not supported; use "mysql", "postgres" or "sqlserver".`,
				`testdata/errors/source_settings.hcl:3:15: error: Empty dsn: The dsn must not be empty.`,
				`testdata/errors/source_settings.hcl:4:15: error: Invalid server_id: The server_id must be between 1 and 4294967295, not 0.`,
				`testdata/errors/source_settings.hcl:6:24: error: Missing required argument: The argument "server_id" is required, but no definition was found.`,
				`testdata/errors/source_settings.hcl:11:19: error: Invalid duration: The poll_interval must be a duration such as "500ms", "2m" or "168h", not "fast".`,
				`testdata/errors/source_settings.hcl:15:19: error: Invalid duration: The poll_interval must be positive, not "0s".`,
				`testdata/errors/source_settings.hcl:16:3: error: Unsupported argument: An argument named "slot" is not expected here.`,
				`testdata/errors/source_settings.hcl:18:8: error: Unknown target kind: The target kind "oracle" is not supported; use "mysql", "postgres" or "sqlserver".`,
				`testdata/errors/source_settings.hcl:21:19: error: Unsuitable value type: Unsuitable value: a bool is required`,
				`testdata/errors/source_settings.hcl:24:15: error: Missing dsn: The dsn is required; it cannot be null.`,
				`testdata/errors/source_settings.hcl:25:15: error: Missing server_id: The server_id is required; it cannot be null.`,
				`testdata/errors/source_settings.hcl:28:12: error: Missing source: The source is required; it cannot be null.`,
				`testdata/errors/source_settings.hcl:34:18: error: Invalid signal_table: The signal_table "a.b.c" must be a table name, or database.table, of letters, digits, '_' and '$'.`,
				`testdata/errors/source_settings.hcl:38:26: error: Invalid snapshot_parallelism: The snapshot_parallelism must be between 1 and 64, not 0.`,
			},
		},
		{
			file: "syntax.hcl",
			want: []string{
				`testdata/errors/syntax.hcl:2:24: error: Invalid multi-line string: Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \n escape to represent a newline character or use the "heredoc" multi-line template syntax.`,
				`testdata/errors/syntax.hcl:2:24: error: Unterminated template string: No closing marker was found for the string.`,
				`testdata/errors/syntax.hcl:3:2: error: Invalid multi-line string: Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \n escape to represent a newline character or use the "heredoc" multi-line template syntax.`,
				`testdata/errors/syntax.hcl:4:8: error: Invalid multi-line string: Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \n escape to represent a newline character or use the "heredoc" multi-line template syntax.`,
			},
		},
		{
			file: "tables.hcl",
			want: []string{
				`testdata/errors/tables.hcl:4:9: error: Invalid table name: The table name "product" must be schema-qualified, such as "public.orders" (for MySQL, "database.table").`,
				`testdata/errors/tables.hcl:5:9: error: Invalid table name: The table name ".product" must be schema-qualified, such as "public.orders" (for MySQL, "database.table").`,
				`testdata/errors/tables.hcl:6:37: error: Invalid table name: The table name "catalog." must be schema-qualified, such as "public.orders" (for MySQL, "database.table").`,
				`testdata/errors/tables.hcl:8:30: error: Duplicate column: Column "id" appears twice in table "public.category" of scope "products".`,
				`testdata/errors/tables.hcl:8:36: error: Empty column name: A column of table "public.category" in scope "products" has an empty name.`,
				`testdata/errors/tables.hcl:10:9: error: Duplicate table: Table "public.category" appears twice in scope "products"; the first is at testdata/errors/tables.hcl:7,3-26.`,
				`testdata/errors/tables.hcl:11:34: error: Empty column list: The columns of table "public.tag" in scope "products" must not be empty; omit columns to publish every column.`,
				`testdata/errors/tables.hcl:12:35: error: Duplicate target table: Tables "public.tag" and "public.label" of scope "products" both go to target table "public.tag".`,
			},
		},
		{
			file: "template_declaration.hcl",
			want: []string{
				`testdata/errors/template_declaration.hcl:2:22: error: Duplicate param: Template "t" declares param "state" twice.`,
				`testdata/errors/template_declaration.hcl:2:31: error: Invalid param name: The param name "bad-name" must start with a letter or '_' and have only ASCII letters, digits and '_'.`,
				`testdata/errors/template_declaration.hcl:3:35: error: Undeclared param: The where of table "public.orders" in template "t" uses :region, which the template's params ("state") do not declare.`,
				`testdata/errors/template_declaration.hcl:6:35: error: Undeclared param: The where of table "public.orders" in template "none" uses :state, but the template declares no params.`,
				`testdata/errors/template_declaration.hcl:8:1: error: Template without tables: Template "empty" has no table blocks.`,
			},
		},
		{
			file: "template_params.hcl",
			want: []string{
				`testdata/errors/template_params.hcl:9:43: error: Unknown param: Template "sales_by_state" has no param "region"; its params are "state" and "year".`,
				`testdata/errors/template_params.hcl:14:14: error: Missing param: Scope "missing_param" must set param "year" of template "sales_by_state" in its params.`,
				`testdata/errors/template_params.hcl:16:1: error: Missing param: Scope "no_params" must set param "state" of template "sales_by_state" in its params.`,
				`testdata/errors/template_params.hcl:16:1: error: Missing param: Scope "no_params" must set param "year" of template "sales_by_state" in its params.`,
				`testdata/errors/template_params.hcl:23:24: error: Invalid param value: The value of param "state" must be a string, number, bool or null, not tuple.`,
			},
		},
		{
			file: "unknown_source.hcl",
			want: []string{
				`testdata/errors/unknown_source.hcl:8:12: error: Unknown source: Scope "products" refers to source "ap", which is not defined; defined sources: "app" and "shop".`,
			},
		},
		{
			file: "unknown_target.hcl",
			want: []string{
				`testdata/errors/unknown_target.hcl:6:25: error: Unknown target: Scope "products" refers to target "replika", which is not defined; defined targets: "replica".`,
				`testdata/errors/unknown_target.hcl:6:36: error: Duplicate target: Scope "products" lists target "replica" twice.`,
			},
		},
		{
			file: "unknown_template.hcl",
			want: []string{
				`testdata/errors/unknown_template.hcl:8:14: error: Unknown template: Scope "sales_wa" refers to template "sales_by_stat", which is not defined; defined templates: "sales_by_state".`,
			},
		},
		{
			file: "unsupported.hcl",
			want: []string{
				`testdata/errors/unsupported.hcl:3:3: error: Unsupported argument: An argument named "server" is not expected here.`,
				`testdata/errors/unsupported.hcl:7:3: error: Unsupported argument: An argument named "tables" is not expected here.`,
				`testdata/errors/unsupported.hcl:8:22: error: Unsupported argument: An argument named "filter" is not expected here.`,
				`testdata/errors/unsupported.hcl:10:1: error: Unsupported block type: Blocks of type "database" are not expected here.`,
			},
		},
		{
			file: "where_syntax.hcl",
			want: []string{
				`testdata/errors/where_syntax.hcl:4:70: error: Invalid where filter: Table "public.product" in scope "products" has an invalid where filter: expected NULL, found column nul.`,
				`testdata/errors/where_syntax.hcl:5:37: error: Invalid where filter: Table "public.category" in scope "products" has an invalid where filter: expected a column, :param or value, found end of filter.`,
				`testdata/errors/where_syntax.hcl:7:13: error: Invalid where filter: Table "public.tag" in scope "products" has an invalid where filter: unexpected character '~'.`,
			},
		},
		{
			file: "secrets.hcl",
			opts: scopes.LoadOptions{AllowMissingSecrets: true},
			want: []string{
				`testdata/errors/secrets.hcl:1:33: warning: Secret not available: Environment variable "SYNCD_TEST_UNSET" is not set; using an empty string, which is only allowed when validating.`,
				`testdata/errors/secrets.hcl:3:11: warning: Secret not available: Read secret file: open $DIR/no-such.creds: no such file or directory; using an empty string, which is only allowed when validating.`,
			},
		},
		{
			// As `syncd tail` loads: the DSN is not evaluated, NATS
			// credentials must still be there.
			file: "secrets.hcl",
			opts: scopes.LoadOptions{SkipDatabaseSecrets: true},
			want: []string{
				`testdata/errors/secrets.hcl:3:11: error: Error in function call: Call to function "file" failed: read secret file: open $DIR/no-such.creds: no such file or directory.`,
			},
		},
	}
	t.Setenv("SYNCD_TEST_UNSET", "")
	os.Unsetenv("SYNCD_TEST_UNSET")
	dir, err := filepath.Abs("testdata/errors")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		name := strings.TrimSuffix(tt.file, ".hcl")
		if tt.opts.AllowMissingSecrets {
			name += "_allowed"
		}
		if tt.opts.SkipDatabaseSecrets {
			name += "_without_database_secrets"
		}
		t.Run(name, func(t *testing.T) {
			cfg, diags := scopes.Load(filepath.Join("testdata", "errors", tt.file), tt.opts)
			got := strings.Split(strings.TrimSuffix(formatted(t, diags), "\n"), "\n")
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = strings.ReplaceAll(w, "$DIR", dir)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if diags.HasErrors() != (cfg == nil) {
				t.Errorf("Load returned config %v with errors %v", cfg != nil, diags.HasErrors())
			}
		})
	}
}
