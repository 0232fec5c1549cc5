-- upsert 1 row of app.seq
SET IDENTITY_INSERT [app].[seq] ON;
UPDATE T SET T.[v] = S.[v] FROM [app].[seq] AS T WITH (UPDLOCK, SERIALIZABLE) JOIN (VALUES (@p1, @p2)) AS S ([id], [v]) ON T.[id] = S.[id];
INSERT INTO [app].[seq] ([id], [v]) SELECT S.[id], S.[v] FROM (VALUES (@p1, @p2)) AS S ([id], [v]) WHERE NOT EXISTS (SELECT 1 FROM [app].[seq] AS T WITH (UPDLOCK, SERIALIZABLE) WHERE T.[id] = S.[id]);
SET IDENTITY_INSERT [app].[seq] OFF;

-- upsert 3 rows of app.seq
SET IDENTITY_INSERT [app].[seq] ON;
UPDATE T SET T.[v] = S.[v] FROM [app].[seq] AS T WITH (UPDLOCK, SERIALIZABLE) JOIN (VALUES (@p1, @p2), (@p3, @p4), (@p5, @p6)) AS S ([id], [v]) ON T.[id] = S.[id];
INSERT INTO [app].[seq] ([id], [v]) SELECT S.[id], S.[v] FROM (VALUES (@p1, @p2), (@p3, @p4), (@p5, @p6)) AS S ([id], [v]) WHERE NOT EXISTS (SELECT 1 FROM [app].[seq] AS T WITH (UPDLOCK, SERIALIZABLE) WHERE T.[id] = S.[id]);
SET IDENTITY_INSERT [app].[seq] OFF;

-- delete 1 row of app.seq
DELETE T FROM [app].[seq] AS T JOIN (VALUES (@p1)) AS S ([id]) ON T.[id] = S.[id];

-- delete 3 rows of app.seq
DELETE T FROM [app].[seq] AS T JOIN (VALUES (@p1), (@p2), (@p3)) AS S ([id]) ON T.[id] = S.[id];

-- update 1 row of app.seq
UPDATE [app].[seq] SET [v] = @p2 WHERE [id] = @p1;

-- change the key of 1 row of app.seq
UPDATE [app].[seq] SET [id] = @p1, [v] = @p2 WHERE [id] = @p3;

-- truncate app.seq
DELETE FROM [app].[seq];

