-- upsert 1 row of items
INSERT INTO [items] ([id]) SELECT S.[id] FROM (VALUES (@p1)) AS S ([id]) WHERE NOT EXISTS (SELECT 1 FROM [items] AS T WITH (UPDLOCK, SERIALIZABLE) WHERE T.[id] = S.[id]);

-- upsert 3 rows of items
INSERT INTO [items] ([id]) SELECT S.[id] FROM (VALUES (@p1), (@p2), (@p3)) AS S ([id]) WHERE NOT EXISTS (SELECT 1 FROM [items] AS T WITH (UPDLOCK, SERIALIZABLE) WHERE T.[id] = S.[id]);

-- delete 1 row of items
DELETE T FROM [items] AS T JOIN (VALUES (@p1)) AS S ([id]) ON T.[id] = S.[id];

-- delete 3 rows of items
DELETE T FROM [items] AS T JOIN (VALUES (@p1), (@p2), (@p3)) AS S ([id]) ON T.[id] = S.[id];

-- update 1 row of items
UPDATE [items] SET [id] = [id] WHERE [id] = @p1;

-- change the key of 1 row of items
UPDATE [items] SET [id] = @p1 WHERE [id] = @p2;

-- truncate items
DELETE FROM [items];

