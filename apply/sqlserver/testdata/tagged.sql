-- upsert 1 row of items
WITH CHANGE_TRACKING_CONTEXT (0x73796E63643A6170703A6F72646572733A657270)
UPDATE T SET T.[name] = S.[name], T.[note] = S.[note], T.[qty] = S.[qty] FROM [items] AS T WITH (UPDLOCK, SERIALIZABLE) JOIN (VALUES (@p1, @p2, @p3, @p4)) AS S ([id], [name], [note], [qty]) ON T.[id] = S.[id];
WITH CHANGE_TRACKING_CONTEXT (0x73796E63643A6170703A6F72646572733A657270)
INSERT INTO [items] ([id], [name], [note], [qty]) SELECT S.[id], S.[name], S.[note], S.[qty] FROM (VALUES (@p1, @p2, @p3, @p4)) AS S ([id], [name], [note], [qty]) WHERE NOT EXISTS (SELECT 1 FROM [items] AS T WITH (UPDLOCK, SERIALIZABLE) WHERE T.[id] = S.[id]);

-- upsert 3 rows of items
WITH CHANGE_TRACKING_CONTEXT (0x73796E63643A6170703A6F72646572733A657270)
UPDATE T SET T.[name] = S.[name], T.[note] = S.[note], T.[qty] = S.[qty] FROM [items] AS T WITH (UPDLOCK, SERIALIZABLE) JOIN (VALUES (@p1, @p2, @p3, @p4), (@p5, @p6, @p7, @p8), (@p9, @p10, @p11, @p12)) AS S ([id], [name], [note], [qty]) ON T.[id] = S.[id];
WITH CHANGE_TRACKING_CONTEXT (0x73796E63643A6170703A6F72646572733A657270)
INSERT INTO [items] ([id], [name], [note], [qty]) SELECT S.[id], S.[name], S.[note], S.[qty] FROM (VALUES (@p1, @p2, @p3, @p4), (@p5, @p6, @p7, @p8), (@p9, @p10, @p11, @p12)) AS S ([id], [name], [note], [qty]) WHERE NOT EXISTS (SELECT 1 FROM [items] AS T WITH (UPDLOCK, SERIALIZABLE) WHERE T.[id] = S.[id]);

-- delete 1 row of items
WITH CHANGE_TRACKING_CONTEXT (0x73796E63643A6170703A6F72646572733A657270)
DELETE T FROM [items] AS T JOIN (VALUES (@p1)) AS S ([id]) ON T.[id] = S.[id];

-- delete 3 rows of items
WITH CHANGE_TRACKING_CONTEXT (0x73796E63643A6170703A6F72646572733A657270)
DELETE T FROM [items] AS T JOIN (VALUES (@p1), (@p2), (@p3)) AS S ([id]) ON T.[id] = S.[id];

-- update 1 row of items
WITH CHANGE_TRACKING_CONTEXT (0x73796E63643A6170703A6F72646572733A657270)
UPDATE [items] SET [name] = @p2, [note] = @p3, [qty] = @p4 WHERE [id] = @p1;

-- change the key of 1 row of items
WITH CHANGE_TRACKING_CONTEXT (0x73796E63643A6170703A6F72646572733A657270)
UPDATE [items] SET [id] = @p1, [name] = @p2, [note] = @p3, [qty] = @p4 WHERE [id] = @p5;

-- truncate items
WITH CHANGE_TRACKING_CONTEXT (0x73796E63643A6170703A6F72646572733A657270)
DELETE FROM [items];

