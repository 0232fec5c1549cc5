-- upsert 1 row of we]ird.ta]]ble
UPDATE T SET T.[v'al] = S.[v'al], T.[[x]]] = S.[[x]]] FROM [we]]ird].[ta]]]]ble] AS T WITH (UPDLOCK, SERIALIZABLE) JOIN (VALUES (@p1, @p2, @p3, @p4)) AS S ([k]]1], [k 2], [v'al], [[x]]]) ON T.[k]]1] = S.[k]]1] AND T.[k 2] = S.[k 2];
INSERT INTO [we]]ird].[ta]]]]ble] ([k]]1], [k 2], [v'al], [[x]]]) SELECT S.[k]]1], S.[k 2], S.[v'al], S.[[x]]] FROM (VALUES (@p1, @p2, @p3, @p4)) AS S ([k]]1], [k 2], [v'al], [[x]]]) WHERE NOT EXISTS (SELECT 1 FROM [we]]ird].[ta]]]]ble] AS T WITH (UPDLOCK, SERIALIZABLE) WHERE T.[k]]1] = S.[k]]1] AND T.[k 2] = S.[k 2]);

-- upsert 3 rows of we]ird.ta]]ble
UPDATE T SET T.[v'al] = S.[v'al], T.[[x]]] = S.[[x]]] FROM [we]]ird].[ta]]]]ble] AS T WITH (UPDLOCK, SERIALIZABLE) JOIN (VALUES (@p1, @p2, @p3, @p4), (@p5, @p6, @p7, @p8), (@p9, @p10, @p11, @p12)) AS S ([k]]1], [k 2], [v'al], [[x]]]) ON T.[k]]1] = S.[k]]1] AND T.[k 2] = S.[k 2];
INSERT INTO [we]]ird].[ta]]]]ble] ([k]]1], [k 2], [v'al], [[x]]]) SELECT S.[k]]1], S.[k 2], S.[v'al], S.[[x]]] FROM (VALUES (@p1, @p2, @p3, @p4), (@p5, @p6, @p7, @p8), (@p9, @p10, @p11, @p12)) AS S ([k]]1], [k 2], [v'al], [[x]]]) WHERE NOT EXISTS (SELECT 1 FROM [we]]ird].[ta]]]]ble] AS T WITH (UPDLOCK, SERIALIZABLE) WHERE T.[k]]1] = S.[k]]1] AND T.[k 2] = S.[k 2]);

-- delete 1 row of we]ird.ta]]ble
DELETE T FROM [we]]ird].[ta]]]]ble] AS T JOIN (VALUES (@p1, @p2)) AS S ([k]]1], [k 2]) ON T.[k]]1] = S.[k]]1] AND T.[k 2] = S.[k 2];

-- delete 3 rows of we]ird.ta]]ble
DELETE T FROM [we]]ird].[ta]]]]ble] AS T JOIN (VALUES (@p1, @p2), (@p3, @p4), (@p5, @p6)) AS S ([k]]1], [k 2]) ON T.[k]]1] = S.[k]]1] AND T.[k 2] = S.[k 2];

-- update 1 row of we]ird.ta]]ble
UPDATE [we]]ird].[ta]]]]ble] SET [v'al] = @p3, [[x]]] = @p4 WHERE [k]]1] = @p1 AND [k 2] = @p2;

-- change the key of 1 row of we]ird.ta]]ble
UPDATE [we]]ird].[ta]]]]ble] SET [k]]1] = @p1, [k 2] = @p2, [v'al] = @p3, [[x]]] = @p4 WHERE [k]]1] = @p5 AND [k 2] = @p6;

-- truncate we]ird.ta]]ble
DELETE FROM [we]]ird].[ta]]]]ble];

