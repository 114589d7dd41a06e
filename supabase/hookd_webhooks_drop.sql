-- hookd: removes the Database Webhooks that supabase/hookd_webhooks.sql
-- created. Paste into the Supabase SQL editor and run; safe to run twice.

do $$
declare
  activity text;
begin
  drop trigger if exists hookd_jobs on public.jobs;
  drop trigger if exists hookd_posts on public.posts;
  drop trigger if exists hookd_candidates on public.candidates;
  foreach activity in array array['post_views', 'views', 'likes', 'comments', 'shares', 'applications'] loop
    if to_regclass(format('public.%I', activity)) is not null then
      execute format('drop trigger if exists hookd_activity on public.%I', activity);
    end if;
  end loop;
end
$$;
