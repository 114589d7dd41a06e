-- The embedded twin of leaderboard_postgres.sql, for hookd.db once its
-- store schema is applied: the same 50,000 users and 2,000,000
-- activity_logs over the 48 hours before now, in time order, with the
-- same spread, timestamps in the embedded store's fixed-width UTC text.
-- (In SQLite, || binds tighter than %: hence the parentheses.)
INSERT INTO users (id, email, created_at)
WITH RECURSIVE u(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM u WHERE n < 50000)
SELECT printf('user-%05d', n), 'user' || n || '@example.com', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-90 days')
FROM u;

INSERT INTO activity_logs (id, user_id, action, target_type, target_id, points_earned, processing_id, created_at)
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 1999999),
r AS (SELECT i, (i * 7) % 10 AS k, 172800000 - i * 864 / 10 AS back_ms FROM s)
SELECT printf('log-%08d', i),
       printf('user-%05d', 1 + (i * 7919) % 50000),
       CASE i % 5 WHEN 0 THEN 'view' WHEN 1 THEN 'like' WHEN 2 THEN 'comment' WHEN 3 THEN 'share' ELSE 'apply' END,
       CASE WHEN k < 4 THEN 'post' WHEN k = 4 THEN 'job' WHEN k < 7 THEN 'comment' WHEN k < 9 THEN 'profile' END,
       CASE WHEN k < 4 THEN 'post-' || ((i * 104729) % 200000)
            WHEN k = 4 THEN 'job-' || ((i * 15485863) % 50000)
            WHEN k < 9 THEN 'other-' || (i % 1000) END,
       CASE i % 5 WHEN 0 THEN 1 WHEN 1 THEN 5 WHEN 2 THEN 10 WHEN 3 THEN 15 ELSE 20 END,
       printf('activity-bench-%d-%08d', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) - back_ms, i),
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%.3f seconds', back_ms / 1000.0))
FROM r;

UPDATE users SET
  engagement_score = (SELECT coalesce(sum(points_earned), 0) FROM activity_logs WHERE user_id = users.id),
  last_activity_at = (SELECT max(created_at) FROM activity_logs WHERE user_id = users.id);

ANALYZE;
