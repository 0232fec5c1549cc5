-- insert 1 row of logs
INSERT INTO [logs] ([msg], [n]) VALUES (@p1, @p2);

-- insert 3 rows of logs
INSERT INTO [logs] ([msg], [n]) VALUES (@p1, @p2), (@p3, @p4), (@p5, @p6);

-- delete 1 row of logs
DELETE TOP (1) FROM [logs] WHERE EXISTS (SELECT [msg], [n] INTERSECT SELECT @p1, @p2);

-- truncate logs
DELETE FROM [logs];

