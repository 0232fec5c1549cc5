CREATE TABLE [sy]]ncd].[scope_info] (
	scope             NVARCHAR(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
	source            NVARCHAR(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
	scope_version     INT NOT NULL,
	definition        NVARCHAR(MAX) NULL,
	column_schema     NVARCHAR(MAX) NULL,
	last_position     VARCHAR(32) NOT NULL,
	last_stream_seq   DECIMAL(20,0) NOT NULL,
	last_applied_at   DATETIME2(7) NOT NULL,
	last_txn_apply_ms FLOAT NOT NULL,
	rows_applied      BIGINT NOT NULL,
	syncd_version     NVARCHAR(255) NOT NULL,
	backfill          NVARCHAR(255) NOT NULL DEFAULT 'none',
	backfill_table    NVARCHAR(255) NOT NULL DEFAULT '',
	backfill_rows     BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (scope, source)
);

IF COL_LENGTH(N'[sy]]ncd].[scope_info]', N'backfill') IS NULL ALTER TABLE [sy]]ncd].[scope_info] ADD backfill NVARCHAR(255) NOT NULL DEFAULT 'none';
IF COL_LENGTH(N'[sy]]ncd].[scope_info]', N'backfill_table') IS NULL ALTER TABLE [sy]]ncd].[scope_info] ADD backfill_table NVARCHAR(255) NOT NULL DEFAULT '';
IF COL_LENGTH(N'[sy]]ncd].[scope_info]', N'backfill_rows') IS NULL ALTER TABLE [sy]]ncd].[scope_info] ADD backfill_rows BIGINT NOT NULL DEFAULT 0;

SELECT scope_version, definition, column_schema, last_position,
			last_stream_seq, last_applied_at, last_txn_apply_ms, rows_applied, syncd_version,
			backfill, backfill_table, backfill_rows
			FROM [sy]]ncd].[scope_info] WHERE scope = @p1 AND source = @p2;

UPDATE [sy]]ncd].[scope_info] WITH (UPDLOCK, SERIALIZABLE) SET scope_version = @p3, definition = COALESCE(@p4, definition), column_schema = COALESCE(@p5, column_schema), last_position = @p6, last_stream_seq = @p7, last_applied_at = @p8, last_txn_apply_ms = @p9, rows_applied = @p10, syncd_version = @p11, backfill = @p12, backfill_table = @p13, backfill_rows = @p14 WHERE scope = @p1 AND source = @p2;
IF @@ROWCOUNT = 0
INSERT INTO [sy]]ncd].[scope_info] (scope, source, scope_version, definition, column_schema, last_position, last_stream_seq, last_applied_at, last_txn_apply_ms, rows_applied, syncd_version, backfill, backfill_table, backfill_rows) VALUES (@p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12, @p13, @p14);
