-- upsert 1 row of pairs
UPDATE T SET T.[v] = S.[v] FROM [pairs] AS T WITH (UPDLOCK, SERIALIZABLE) JOIN (VALUES (@p1, @p2, @p3)) AS S ([a], [b], [v]) ON T.[a] = S.[a] AND T.[b] = S.[b];
INSERT INTO [pairs] ([a], [b], [v]) SELECT S.[a], S.[b], S.[v] FROM (VALUES (@p1, @p2, @p3)) AS S ([a], [b], [v]) WHERE NOT EXISTS (SELECT 1 FROM [pairs] AS T WITH (UPDLOCK, SERIALIZABLE) WHERE T.[a] = S.[a] AND T.[b] = S.[b]);

-- upsert 3 rows of pairs
UPDATE T SET T.[v] = S.[v] FROM [pairs] AS T WITH (UPDLOCK, SERIALIZABLE) JOIN (VALUES (@p1, @p2, @p3), (@p4, @p5, @p6), (@p7, @p8, @p9)) AS S ([a], [b], [v]) ON T.[a] = S.[a] AND T.[b] = S.[b];
INSERT INTO [pairs] ([a], [b], [v]) SELECT S.[a], S.[b], S.[v] FROM (VALUES (@p1, @p2, @p3), (@p4, @p5, @p6), (@p7, @p8, @p9)) AS S ([a], [b], [v]) WHERE NOT EXISTS (SELECT 1 FROM [pairs] AS T WITH (UPDLOCK, SERIALIZABLE) WHERE T.[a] = S.[a] AND T.[b] = S.[b]);

-- delete 1 row of pairs
DELETE T FROM [pairs] AS T JOIN (VALUES (@p1, @p2)) AS S ([a], [b]) ON T.[a] = S.[a] AND T.[b] = S.[b];

-- delete 3 rows of pairs
DELETE T FROM [pairs] AS T JOIN (VALUES (@p1, @p2), (@p3, @p4), (@p5, @p6)) AS S ([a], [b]) ON T.[a] = S.[a] AND T.[b] = S.[b];

-- update 1 row of pairs
UPDATE [pairs] SET [v] = @p3 WHERE [a] = @p1 AND [b] = @p2;

-- change the key of 1 row of pairs
UPDATE [pairs] SET [a] = @p1, [b] = @p2, [v] = @p3 WHERE [a] = @p4 AND [b] = @p5;

-- truncate pairs
DELETE FROM [pairs];

