-- hookd: the Supabase Database Webhooks that feed it.
--
-- Paste this whole file into the Supabase SQL editor and run it, after
-- replacing the two placeholders just below (the script refuses to run
-- while they are still there):
--
--   https://HOOKD.EXAMPLE.COM             the public base URL of your hookd, no trailing slash
--   REPLACE_WITH_SUPABASE_WEBHOOK_SECRET  the value of hookd's SUPABASE_WEBHOOK_SECRET
--
-- Prerequisite: Database Webhooks enabled once for the project (Dashboard →
-- Database → Webhooks → "Enable webhooks"), which installs pg_net and the
-- supabase_functions schema.
--
-- It creates, or replaces, one webhook per table, each an AFTER ... FOR EACH
-- ROW trigger calling supabase_functions.http_request exactly as the
-- Dashboard's webhook form does, so they show up under Database → Webhooks:
--
--   hookd_jobs      public.jobs   INSERT, UPDATE OF title, description, required_skills,
--                                 experience_level, location  → POST /api/jobs/analyze
--   hookd_posts     public.posts  INSERT, UPDATE OF content, images, links
--                                                              → POST /api/posts/moderate
--   hookd_candidates public.candidates INSERT, UPDATE OF skills, experience_level, location
--                                                              → POST /api/candidates/match
--   hookd_activity  INSERT on each of public.post_views, views, likes, comments, shares,
--                   applications that exists                  → POST /api/activity/score
--
-- Each sends Content-Type: application/json and x-webhook-secret, with a
-- timeout of 5000 ms. The UPDATE triggers list only the columns hookd reads:
-- hookd's own writes (analysis_completed, candidates_count, analyzed_at,
-- extracted_skills, is_flagged, flag_reason, moderated_at, moderation_status)
-- do not fire them, and hookd also skips an UPDATE whose content did not
-- change, so no webhook loops back. Running the script again is safe.
-- supabase/hookd_webhooks_drop.sql removes everything it creates.

do $$
declare
  hookd_url    constant text := 'https://HOOKD.EXAMPLE.COM';             -- <- your hookd
  hookd_secret constant text := 'REPLACE_WITH_SUPABASE_WEBHOOK_SECRET';  -- <- its SUPABASE_WEBHOOK_SECRET
  timeout_ms   constant text := '5000';
  headers      text;
  hook         record;
  activity     text;
begin
  if hookd_url like '%HOOKD.EXAMPLE.COM%' or hookd_secret like 'REPLACE_WITH_%' then
    raise exception 'hookd: replace the URL and secret placeholders at the top of the script first';
  end if;
  if to_regprocedure('supabase_functions.http_request()') is null then
    raise exception 'hookd: supabase_functions.http_request is missing: enable Database Webhooks first (Dashboard → Database → Webhooks)';
  end if;
  headers := jsonb_build_object('Content-Type', 'application/json', 'x-webhook-secret', hookd_secret)::text;

  for hook in select * from (values
      ('hookd_jobs', 'jobs', 'insert or update of title, description, required_skills, experience_level, location', '/api/jobs/analyze'),
      ('hookd_posts', 'posts', 'insert or update of content, images, links', '/api/posts/moderate'),
      ('hookd_candidates', 'candidates', 'insert or update of skills, experience_level, location', '/api/candidates/match')
    ) as h (name, tbl, events, route) loop
    execute format('drop trigger if exists %I on public.%I', hook.name, hook.tbl);
    execute format(
      'create trigger %I after %s on public.%I for each row
         execute function supabase_functions.http_request(%L, %L, %L, %L, %L)',
      hook.name, hook.events, hook.tbl, hookd_url || hook.route, 'POST', headers, '{}', timeout_ms);
  end loop;

  foreach activity in array array['post_views', 'views', 'likes', 'comments', 'shares', 'applications'] loop
    if to_regclass(format('public.%I', activity)) is null then
      raise notice 'hookd: no table public.%, no activity webhook for it', activity;
      continue;
    end if;
    execute format('drop trigger if exists hookd_activity on public.%I', activity);
    execute format(
      'create trigger hookd_activity
         after insert
         on public.%I for each row
         execute function supabase_functions.http_request(%L, %L, %L, %L, %L)',
      activity, hookd_url || '/api/activity/score', 'POST', headers, '{}', timeout_ms);
    raise notice 'hookd: activity webhook on public.%', activity;
  end loop;
end
$$;

-- Check: one line per webhook.
select event_object_table as "table", trigger_name as webhook, string_agg(event_manipulation, ', ') as events
from information_schema.triggers
where trigger_name in ('hookd_jobs', 'hookd_posts', 'hookd_candidates', 'hookd_activity')
group by 1, 2
order by 1;
