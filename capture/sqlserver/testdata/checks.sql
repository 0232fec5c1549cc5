SELECT CHANGE_TRACKING_CURRENT_VERSION()

SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(@p1))

SELECT DB_NAME(), USER_NAME(),
  CASE WHEN ctd.database_id IS NULL THEN 0 ELSE 1 END,
  COALESCE(ctd.retention_period, 0), COALESCE(ctd.retention_period_units_desc, N''),
  d.snapshot_isolation_state
FROM sys.databases AS d
LEFT JOIN sys.change_tracking_databases AS ctd ON ctd.database_id = d.database_id
WHERE d.database_id = DB_ID()

SELECT CASE WHEN OBJECT_ID(@p1, 'U') IS NULL THEN 0 ELSE 1 END,
  CASE WHEN EXISTS (SELECT 1 FROM sys.change_tracking_tables WHERE object_id = OBJECT_ID(@p1, 'U')) THEN 1 ELSE 0 END,
  COALESCE(HAS_PERMS_BY_NAME(@p1, 'OBJECT', 'SELECT'), 0),
  COALESCE(HAS_PERMS_BY_NAME(@p1, 'OBJECT', 'VIEW CHANGE TRACKING'), 0)

SELECT c.name, c.column_id,
  TYPE_NAME(CASE WHEN c.system_type_id = 240 THEN c.user_type_id ELSE c.system_type_id END),
  c.max_length, c.precision, c.scale, COALESCE(ic.key_ordinal, 0)
FROM sys.columns AS c
LEFT JOIN sys.indexes AS i ON i.object_id = c.object_id AND i.is_primary_key = 1
LEFT JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.column_id = c.column_id
WHERE c.object_id = OBJECT_ID(@p1, 'U')
ORDER BY c.column_id