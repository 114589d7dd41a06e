-- A store for the leaderboard rebuild benchmark (BENCHMARKS.md, "Leaderboard
-- rebuild"), in a database holding the app's tables and hookd's migration:
-- 50,000 users and 2,000,000 activity_logs spread over the 48 hours before
-- now (about 12 events a second), each user's engagement_score the sum of
-- their logs. Half the logs are on posts (200,000 of them) and jobs
-- (50,000), the target types with trending buckets; the rest on comments,
-- profiles or nothing. The logs come in time order, one every 86.4 ms, as
-- a live hookd writes them; users and targets are spread arithmetically,
-- not at random: every load gives the same rows, relative to now().
INSERT INTO users (id, email, created_at)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(u), 12, '0'))::uuid,
       'user' || u || '@example.com', now() - interval '90 days'
FROM generate_series(1, 50000) AS u;

INSERT INTO activity_logs (user_id, action, target_type, target_id, points_earned, processing_id, created_at)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(1 + (i * 7919) % 50000), 12, '0'))::uuid,
       (ARRAY['view', 'like', 'comment', 'share', 'apply'])[1 + i % 5],
       CASE WHEN k < 4 THEN 'post' WHEN k = 4 THEN 'job' WHEN k < 7 THEN 'comment' WHEN k < 9 THEN 'profile' END,
       CASE WHEN k < 4 THEN 'post-' || (i * 104729) % 200000
            WHEN k = 4 THEN 'job-' || (i * 15485863) % 50000
            WHEN k < 9 THEN 'other-' || i % 1000 END,
       (ARRAY[1, 5, 10, 15, 20])[1 + i % 5],
       'activity-bench-' || (extract(epoch FROM at) * 1000)::bigint || '-' || lpad(i::text, 8, '0'),
       at
FROM generate_series(0::bigint, 1999999) AS i,
     LATERAL (SELECT (i * 7) % 10 AS k,
                     now() - make_interval(secs => (172800000 - i * 86.4) / 1000.0) AS at) AS r;

UPDATE users u SET engagement_score = s.points, last_activity_at = s.last
FROM (SELECT user_id, sum(points_earned) AS points, max(created_at) AS last
      FROM activity_logs GROUP BY user_id) AS s
WHERE u.id = s.user_id;

ANALYZE users;
ANALYZE activity_logs;
