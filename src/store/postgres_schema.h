/*
 * postgres_schema: the versioned migrations of the PostgreSQL store, applied in order by
 * postgres.c under an advisory lock, so that nodes starting at once never race. The table
 * schema_migrations holds one row per migration applied. Never edit a migration that has
 * shipped; add a new one.
 *
 * Text that is compared or ordered (ids, tenants, types, keys, paths) is COLLATE "C": byte order,
 * as in SQLite, whatever the database's locale; list cursors and record paging depend on it.
 * Times are BIGINT ms since the epoch, UTC, as in SQLite.
 */
#ifndef SL_STORE_POSTGRES_SCHEMA_H
#define SL_STORE_POSTGRES_SCHEMA_H

#include "store/stats_agg.h"

/* The advisory lock key migrations hold ("sluice" in ASCII, then 1). */
#define PG_MIGRATE_LOCK "7526466502926794753"

/* The job rows an update changed in an aggregated column: from old_rows with d = -1 and from
 * new_rows with d = 1. */
#define PG_CHANGED                                                                                 \
    " FROM old_rows o JOIN new_rows w ON w.id = o.id"                                              \
    " WHERE (o.status, o.started_at, o.completed_at, o.processing_ms)"                             \
    "  IS DISTINCT FROM (w.status, w.started_at, w.completed_at, w.processing_ms)"
#define PG_UPDATE_DELTA "SELECT o.*, -1 AS d" PG_CHANGED " UNION ALL SELECT w.*, 1 AS d" PG_CHANGED

/* Applies the rows of SRC (jobs' columns plus a sign d) to job_counts, job_stats_hour and job_hist,
 * in key order, each into this backend's slot. Sets FOUND from the job_counts change. */
#define PG_AGG_APPLY(SRC)                                                                          \
    "  INSERT INTO job_stats_hour AS a (hour, tenant, type, status, done_day, slot, n, proc_n,\n"  \
    "    proc_sum, wait_n, wait_sum)\n"                                                            \
    "    SELECT created_at / 3600000, tenant, type, status,\n"                                     \
    "      coalesce(completed_at / 86400000, -1), pg_backend_pid() % 16, sum(d),\n"                \
    "      sum(d * (status = 'completed' AND processing_ms IS NOT NULL)::int),\n"                  \
    "      sum(d * CASE WHEN status = 'completed' THEN coalesce(processing_ms, 0) ELSE 0 END),\n"  \
    "      sum(d * (started_at IS NOT NULL)::int), sum(d * coalesce(started_at - created_at, "     \
    "0))\n"                                                                                        \
    "    FROM (" SRC ") x GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5\n"                         \
    "    ON CONFLICT (hour, tenant, type, status, done_day, slot) DO UPDATE SET\n"                 \
    "      n = a.n + EXCLUDED.n, proc_n = a.proc_n + EXCLUDED.proc_n,\n"                           \
    "      proc_sum = a.proc_sum + EXCLUDED.proc_sum, wait_n = a.wait_n + EXCLUDED.wait_n,\n"      \
    "      wait_sum = a.wait_sum + EXCLUDED.wait_sum;\n"                                           \
    "  INSERT INTO job_hist AS h (day, tenant, bucket, slot, n)\n"                                 \
    "    SELECT created_at / 86400000, tenant, " SL_HIST_BUCKET_SQL(                               \
        "processing_ms") ",\n"                                                                     \
                         "      pg_backend_pid() % 16, sum(d) FROM (" SRC ") x\n"                  \
                         "    WHERE status = 'completed' AND processing_ms IS NOT NULL\n"          \
                         "    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3\n"                                 \
                         "    ON CONFLICT (day, tenant, bucket, slot) DO UPDATE SET n = h.n + "    \
                         "EXCLUDED.n;\n"                                                           \
                         "  INSERT INTO job_counts AS c (tenant, type, status, slot, n)\n"         \
                         "    SELECT tenant, type, status, pg_backend_pid() % 16, sum(d) FROM "    \
                         "(" SRC ") x\n"                                                           \
                         "    GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3\n"              \
                         "    ON CONFLICT (tenant, type, status, slot) DO UPDATE SET n = c.n + "   \
                         "EXCLUDED.n;\n"

static const char *const sl_postgres_migrations[] = {
    /* 1: jobs, with the indexes of the SQLite store (claim, rescue, listing, stats), and the
     * per-tenant status counters that keep the queue route from counting rows.
     *
     * Counters are kept by statement-level triggers over transition tables: one change per
     * (tenant, status) per statement, applied in (tenant, status) order, so two transactions
     * never lock counter rows in opposite orders. Each counter is split into 16 slots chosen by
     * the backend's pid, so concurrent writers (pool connections, nodes) mostly update different
     * rows instead of queueing on one; a slot may go negative, the sum over slots is the count.
     * The same triggers NOTIFY sluice_jobs when jobs are inserted, change status or are removed
     * (delivered at commit, once per transaction), for other nodes' live queue. */
    "CREATE TABLE jobs ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  upload_id TEXT NOT NULL,"
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  type TEXT COLLATE \"C\" NOT NULL,"
    "  status TEXT COLLATE \"C\" NOT NULL"
    "    CHECK (status IN ('pending','processing','completed','failed')),"
    "  file_name TEXT NOT NULL,"
    "  content_type TEXT NOT NULL,"
    "  blob_key TEXT NOT NULL,"
    "  size BIGINT NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  max_attempts INTEGER NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  due_at BIGINT NOT NULL,"
    "  started_at BIGINT,"
    "  completed_at BIGINT,"
    "  processing_ms BIGINT,"
    "  lease_until BIGINT,"
    "  fence BIGINT NOT NULL DEFAULT 0,"
    "  error TEXT,"
    "  result TEXT);"
    "CREATE INDEX jobs_pending_tenant ON jobs (tenant, created_at, id) WHERE status = 'pending';"
    "CREATE INDEX jobs_pending_fifo ON jobs (created_at, id) WHERE status = 'pending';"
    "CREATE INDEX jobs_pending_due ON jobs (due_at) WHERE status = 'pending';"
    "CREATE INDEX jobs_lease ON jobs (lease_until) WHERE status = 'processing';"
    "CREATE INDEX jobs_status_created ON jobs (status, created_at, id);"
    "CREATE INDEX jobs_created ON jobs (created_at, id);"
    "CREATE TABLE job_counts ("
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  status TEXT COLLATE \"C\" NOT NULL,"
    "  slot INTEGER NOT NULL,"
    "  n BIGINT NOT NULL,"
    "  PRIMARY KEY (tenant, status, slot));"
    "CREATE FUNCTION sluice_jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  INSERT INTO job_counts AS c (tenant, status, slot, n)\n"
    "    SELECT tenant, status, pg_backend_pid() % 16, count(*) FROM new_rows\n"
    "    GROUP BY tenant, status ORDER BY tenant, status\n"
    "    ON CONFLICT (tenant, status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;\n"
    "  IF FOUND THEN PERFORM pg_notify('sluice_jobs', 'insert'); END IF;\n"
    "  RETURN NULL;\n"
    "END $$;"
    "CREATE FUNCTION sluice_jobs_updated() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  INSERT INTO job_counts AS c (tenant, status, slot, n)\n"
    "    SELECT tenant, status, pg_backend_pid() % 16, sum(d) FROM (\n"
    "      SELECT o.tenant, o.status, -1 AS d FROM old_rows o JOIN new_rows w ON w.id = o.id\n"
    "        WHERE w.status <> o.status\n"
    "      UNION ALL\n"
    "      SELECT w.tenant, w.status, 1 FROM old_rows o JOIN new_rows w ON w.id = o.id\n"
    "        WHERE w.status <> o.status) x\n"
    "    GROUP BY tenant, status HAVING sum(d) <> 0 ORDER BY tenant, status\n"
    "    ON CONFLICT (tenant, status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;\n"
    "  IF FOUND THEN PERFORM pg_notify('sluice_jobs', 'update'); END IF;\n"
    "  RETURN NULL;\n"
    "END $$;"
    "CREATE FUNCTION sluice_jobs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  INSERT INTO job_counts AS c (tenant, status, slot, n)\n"
    "    SELECT tenant, status, pg_backend_pid() % 16, -count(*) FROM old_rows\n"
    "    GROUP BY tenant, status ORDER BY tenant, status\n"
    "    ON CONFLICT (tenant, status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;\n"
    "  IF FOUND THEN PERFORM pg_notify('sluice_jobs', 'delete'); END IF;\n"
    "  RETURN NULL;\n"
    "END $$;"
    "CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sluice_jobs_inserted();"
    "CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs"
    "  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sluice_jobs_updated();"
    "CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sluice_jobs_deleted();",

    /* 2: cron slots, one row per (path, scheduled time): the primary key is what makes a slot
     * fire once across every node (INSERT ... ON CONFLICT DO NOTHING). */
    "CREATE TABLE cron_slots ("
    "  path TEXT COLLATE \"C\" NOT NULL,"
    "  slot_at BIGINT NOT NULL,"
    "  claimed_at BIGINT NOT NULL,"
    "  node TEXT NOT NULL,"
    "  status INTEGER,"
    "  duration_ms BIGINT,"
    "  skipped INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (path, slot_at));",

    /* 3: imported records keyed by (tenant, type, key), the row errors of each import in the
     * order they were found, and small files stored with their job (one commit stores both). */
    "CREATE TABLE records ("
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  type TEXT COLLATE \"C\" NOT NULL,"
    "  key TEXT COLLATE \"C\" NOT NULL,"
    "  data TEXT NOT NULL,"
    "  job_id TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  PRIMARY KEY (tenant, type, key));"
    "CREATE TABLE row_errors ("
    "  job_id TEXT COLLATE \"C\" NOT NULL,"
    "  seq BIGINT NOT NULL,"
    "  row BIGINT NOT NULL,"
    "  field TEXT,"
    "  value TEXT,"
    "  message TEXT NOT NULL,"
    "  PRIMARY KEY (job_id, seq));"
    "CREATE TABLE blob_inline ("
    "  job_id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  data BYTEA NOT NULL);",
    /* 4: aggregates that keep statistics and metrics O(window), not O(jobs) (see stats_agg.h):
     * job_counts gains the type, job_stats_hour and job_hist are filled from the jobs stored, and
     * the triggers keep all three, slotted by backend pid as before. (PostgreSQL refuses column
     * lists on triggers with transition tables, so an update of other columns, such as a
     * heartbeat, still runs the update function; it finds no changed row and writes nothing.) */
    "LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE;"
    "DROP TABLE job_counts;"
    "CREATE TABLE job_counts ("
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  type TEXT COLLATE \"C\" NOT NULL,"
    "  status TEXT COLLATE \"C\" NOT NULL,"
    "  slot INTEGER NOT NULL,"
    "  n BIGINT NOT NULL,"
    "  PRIMARY KEY (tenant, type, status, slot));"
    "CREATE TABLE job_stats_hour ("
    "  hour BIGINT NOT NULL,"
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  type TEXT COLLATE \"C\" NOT NULL,"
    "  status TEXT COLLATE \"C\" NOT NULL,"
    "  done_day BIGINT NOT NULL,"
    "  slot INTEGER NOT NULL,"
    "  n BIGINT NOT NULL, proc_n BIGINT NOT NULL, proc_sum BIGINT NOT NULL,"
    "  wait_n BIGINT NOT NULL, wait_sum BIGINT NOT NULL,"
    "  PRIMARY KEY (hour, tenant, type, status, done_day, slot));"
    "CREATE TABLE job_hist ("
    "  day BIGINT NOT NULL,"
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  bucket BIGINT NOT NULL,"
    "  slot INTEGER NOT NULL,"
    "  n BIGINT NOT NULL,"
    "  PRIMARY KEY (day, tenant, bucket, slot));"
    // clang-format off
    "DO $$ BEGIN\n" PG_AGG_APPLY("SELECT *, 1 AS d FROM jobs") "END $$;"
    "CREATE OR REPLACE FUNCTION sluice_jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    PG_AGG_APPLY("SELECT *, 1 AS d FROM new_rows")
    "  IF FOUND THEN PERFORM pg_notify('sluice_jobs', 'insert'); END IF;\n"
    "  RETURN NULL;\n"
    "END $$;"
    "CREATE OR REPLACE FUNCTION sluice_jobs_updated() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    PG_AGG_APPLY(PG_UPDATE_DELTA)
    "  IF FOUND THEN PERFORM pg_notify('sluice_jobs', 'update'); END IF;\n"
    "  RETURN NULL;\n"
    "END $$;"
    "CREATE OR REPLACE FUNCTION sluice_jobs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    PG_AGG_APPLY("SELECT *, -1 AS d FROM old_rows")
    "  IF FOUND THEN PERFORM pg_notify('sluice_jobs', 'delete'); END IF;\n"
    "  RETURN NULL;\n"
    "END $$;",
    // clang-format on

    /* 5: records list in the order of record_key.h: by the key's head, then its trailing
     * number. Two SQL functions split a key as sl_record_key_split does; the index serves the
     * listing in that order. */
    "CREATE FUNCTION sluice_key_num(k text) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT"
    "  PARALLEL SAFE AS $$ SELECT COALESCE(substring(k FROM ':([1-9][0-9]{0,17})$')::bigint, 0)"
    "  $$;"
    "CREATE FUNCTION sluice_key_head(k text) RETURNS text LANGUAGE sql IMMUTABLE STRICT"
    "  PARALLEL SAFE AS $$ SELECT CASE WHEN k ~ ':[1-9][0-9]{0,17}$'"
    "    THEN left(k, length(k) - length(substring(k FROM ':([1-9][0-9]{0,17})$'))) ELSE k END"
    "  $$;"
    "CREATE INDEX records_order"
    "  ON records (tenant, type, (sluice_key_head(key)) COLLATE \"C\", sluice_key_num(key));",
};

#endif
