/*
 * sqlite_schema: the versioned migrations of the SQLite store, applied in order by
 * sqlite.c. PRAGMA user_version holds the number of migrations applied. Never edit a
 * migration that has shipped; add a new one.
 */
#ifndef SL_STORE_SQLITE_SCHEMA_H
#define SL_STORE_SQLITE_SCHEMA_H

#include "store/stats_agg.h"

/* One job's share of job_counts, added with sign S ("1" or "-1") for row R ("NEW" or "OLD"). */
#define SQ_COUNT_ADD(R, S)                                                                         \
    "INSERT INTO job_counts VALUES (" R ".tenant, " R ".type, " R ".status, " S ")"                \
    " ON CONFLICT DO UPDATE SET n = n + excluded.n;"

// clang-format off
/* The columns of a job_stats_hour (UNIT "3600000") or job_stats_day (UNIT "86400000") row for
 * rows of T, counted by N and summed by SUM: a backfill's GROUP BY ("COUNT(*)", "SUM"), or one
 * row's own share with sign S (N = S, SUM = S " * "). */
#define SQ_STATS_COLS(T, UNIT, N, SUM)                                                             \
    T ".created_at / " UNIT ", " T ".tenant, " T ".type, " T ".status,"                            \
    " COALESCE(" T ".completed_at / 86400000, -1), " N ","                                         \
    " " SUM "(" T ".status = 'completed' AND " T ".processing_ms IS NOT NULL),"                    \
    " " SUM "(CASE WHEN " T ".status = 'completed' THEN COALESCE(" T ".processing_ms, 0)"          \
    " ELSE 0 END),"                                                                                \
    " " SUM "(" T ".started_at IS NOT NULL),"                                                      \
    " " SUM "(COALESCE(" T ".started_at - " T ".created_at, 0))"

/* Adds row R's share with sign S to one of the two job_stats tables. The row of a job being
 * subtracted always exists, so one upsert serves both signs. */
#define SQ_STATS_UPSERT(TABLE, UNIT, R, S)                                                         \
    "INSERT INTO " TABLE " SELECT " SQ_STATS_COLS(R, UNIT, S, S " * ") " WHERE true"               \
    " ON CONFLICT DO UPDATE SET n = n + excluded.n, proc_n = proc_n + excluded.proc_n,"            \
    " proc_sum = proc_sum + excluded.proc_sum, wait_n = wait_n + excluded.wait_n,"                 \
    " wait_sum = wait_sum + excluded.wait_sum;"

/* One job's share of job_stats_hour, job_stats_day and job_hist, with sign S for row R. */
#define SQ_STATS_ADD(R, S)                                                                         \
    SQ_STATS_UPSERT("job_stats_hour", "3600000", R, S)                                             \
    SQ_STATS_UPSERT("job_stats_day", "86400000", R, S)                                             \
    "INSERT INTO job_hist SELECT " R ".created_at / 86400000, " R ".tenant, "                      \
    SL_HIST_BUCKET_SQL(R ".processing_ms") ", " S                                                  \
    " WHERE " R ".status = 'completed' AND " R ".processing_ms IS NOT NULL"                        \
    " ON CONFLICT DO UPDATE SET n = n + excluded.n;"

/* Creates one of the job_stats tables, PERIOD (UNIT ms long) being the hour or the day of
 * creation, and fills it from the jobs stored. */
#define SQ_STATS_TABLE(TABLE, PERIOD, UNIT)                                                        \
    "CREATE TABLE " TABLE " ("                                                                     \
    "  " PERIOD " INTEGER NOT NULL, tenant TEXT NOT NULL, type TEXT NOT NULL,"                     \
    "  status TEXT NOT NULL, done_day INTEGER NOT NULL, n INTEGER NOT NULL,"                       \
    "  proc_n INTEGER NOT NULL, proc_sum INTEGER NOT NULL, wait_n INTEGER NOT NULL,"               \
    "  wait_sum INTEGER NOT NULL,"                                                                 \
    "  PRIMARY KEY (" PERIOD ", tenant, type, status, done_day)) WITHOUT ROWID;"                   \
    "INSERT INTO " TABLE " SELECT " SQ_STATS_COLS("jobs", UNIT, "COUNT(*)", "SUM")                 \
    " FROM jobs GROUP BY 1, 2, 3, 4, 5;"
// clang-format on

static const char *const sl_sqlite_migrations[] = {
    /* 1: jobs, per-tenant status counters kept by triggers, and the indexes that serve
     * the claim (pending by tenant and age), the rescue (processing by lease), listing
     * (status, created_at) and the stats (created_at). Counters make queue counts O(tenants),
     * whatever the number of finished jobs. */
    "CREATE TABLE jobs ("
    "  id TEXT PRIMARY KEY,"
    "  upload_id TEXT NOT NULL,"
    "  tenant TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('pending','processing','completed','failed')),"
    "  file_name TEXT NOT NULL,"
    "  content_type TEXT NOT NULL,"
    "  blob_key TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  max_attempts INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  due_at INTEGER NOT NULL,"
    "  started_at INTEGER,"
    "  completed_at INTEGER,"
    "  processing_ms INTEGER,"
    "  lease_until INTEGER,"
    "  fence INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT,"
    "  result TEXT);"
    "CREATE INDEX jobs_pending_tenant ON jobs(tenant, created_at, id) WHERE status = 'pending';"
    "CREATE INDEX jobs_pending_fifo ON jobs(created_at, id) WHERE status = 'pending';"
    "CREATE INDEX jobs_lease ON jobs(lease_until) WHERE status = 'processing';"
    "CREATE INDEX jobs_status_created ON jobs(status, created_at, id);"
    "CREATE INDEX jobs_created ON jobs(created_at, id);"
    "CREATE TABLE job_counts ("
    "  tenant TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,"
    "  PRIMARY KEY (tenant, status)) WITHOUT ROWID;"
    "CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN"
    "  INSERT INTO job_counts VALUES (NEW.tenant, NEW.status, 1)"
    "    ON CONFLICT (tenant, status) DO UPDATE SET n = n + 1;"
    "END;"
    "CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN"
    "  UPDATE job_counts SET n = n - 1 WHERE tenant = OLD.tenant AND status = OLD.status;"
    "END;"
    "CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs"
    "  WHEN OLD.status <> NEW.status BEGIN"
    "  UPDATE job_counts SET n = n - 1 WHERE tenant = OLD.tenant AND status = OLD.status;"
    "  INSERT INTO job_counts VALUES (NEW.tenant, NEW.status, 1)"
    "    ON CONFLICT (tenant, status) DO UPDATE SET n = n + 1;"
    "END;",

    /* 2: cron slots, one row per (path, scheduled time): the primary key is what makes a slot
     * fire once across every process sharing the store. Pending jobs by due time, for the
     * continuous worker's next wake-up. */
    "CREATE TABLE cron_slots ("
    "  path TEXT NOT NULL,"
    "  slot_at INTEGER NOT NULL,"
    "  claimed_at INTEGER NOT NULL,"
    "  node TEXT NOT NULL,"
    "  status INTEGER,"
    "  duration_ms INTEGER,"
    "  skipped INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (path, slot_at)) WITHOUT ROWID;"
    "CREATE INDEX jobs_pending_due ON jobs(due_at) WHERE status = 'pending';",

    /* 3: imported records, keyed by (tenant, type, key), and the row errors of each import in
     * the order they were found. */
    "CREATE TABLE records ("
    "  tenant TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  data TEXT NOT NULL,"
    "  job_id TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (tenant, type, key)) WITHOUT ROWID;"
    "CREATE TABLE row_errors ("
    "  job_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  row INTEGER NOT NULL,"
    "  field TEXT,"
    "  value TEXT,"
    "  message TEXT NOT NULL,"
    "  PRIMARY KEY (job_id, seq)) WITHOUT ROWID;",

    /* 4: small files stored with their job, so an upload of small files is made durable by
     * the one commit that stores its jobs. */
    "CREATE TABLE blob_inline ("
    "  job_id TEXT PRIMARY KEY,"
    "  data BLOB NOT NULL) WITHOUT ROWID;",
    // clang-format off
    /* 5: aggregates that keep statistics and metrics O(window), not O(jobs) (see stats_agg.h).
     * job_counts gains the type (metrics count jobs by status and type); job_stats_hour,
     * job_stats_day and job_hist are filled from the jobs already stored, then kept by
     * triggers. A change that touches none of the aggregated columns (heartbeats, progress)
     * fires no aggregate trigger. */
    "DROP TRIGGER jobs_count_insert;"
    "DROP TRIGGER jobs_count_delete;"
    "DROP TRIGGER jobs_count_update;"
    "DROP TABLE job_counts;"
    "CREATE TABLE job_counts ("
    "  tenant TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,"
    "  PRIMARY KEY (tenant, type, status)) WITHOUT ROWID;"
    "INSERT INTO job_counts SELECT tenant, type, status, COUNT(*) FROM jobs GROUP BY 1, 2, 3;"
    SQ_STATS_TABLE("job_stats_hour", "hour", "3600000")
    SQ_STATS_TABLE("job_stats_day", "day", "86400000")
    "CREATE TABLE job_hist ("
    "  day INTEGER NOT NULL, tenant TEXT NOT NULL, bucket INTEGER NOT NULL,"
    "  n INTEGER NOT NULL, PRIMARY KEY (day, tenant, bucket)) WITHOUT ROWID;"
    "INSERT INTO job_hist SELECT created_at / 86400000, tenant, "
    SL_HIST_BUCKET_SQL("processing_ms") ", COUNT(*) FROM jobs"
    "  WHERE status = 'completed' AND processing_ms IS NOT NULL GROUP BY 1, 2, 3;"
    "CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN "
    SQ_COUNT_ADD("NEW", "1")
    SQ_STATS_ADD("NEW", "1")
    "END;"
    "CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN "
    SQ_COUNT_ADD("OLD", "-1")
    SQ_STATS_ADD("OLD", "-1")
    "END;"
    "CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs"
    "  WHEN OLD.status <> NEW.status BEGIN "
    SQ_COUNT_ADD("OLD", "-1")
    SQ_COUNT_ADD("NEW", "1")
    "END;"
    "CREATE TRIGGER jobs_stats_update"
    "  AFTER UPDATE OF status, started_at, completed_at, processing_ms ON jobs"
    "  WHEN OLD.status IS NOT NEW.status OR OLD.started_at IS NOT NEW.started_at"
    "    OR OLD.completed_at IS NOT NEW.completed_at"
    "    OR OLD.processing_ms IS NOT NEW.processing_ms BEGIN "
    SQ_STATS_ADD("OLD", "-1")
    SQ_STATS_ADD("NEW", "1")
    "END;",
    // clang-format on

    /* 6: records under small integers and split keys (see record_key.h). A (tenant, type) is a
     * row of record_spaces and a job a row of record_jobs, so a record carries two small
     * integers instead of three texts; the key is stored as its head and number, which orders
     * an import's `<jobId>:<row>` keys by row: its rows are appended at the end of the b-tree
     * in the order they are read. A record's data may be an array of values under its job's
     * columns (record_data.h): a large import writes a third fewer bytes. sl_key_head and
     * sl_key_num are C functions of the store's connection (sqlite.c). */
    "CREATE TABLE record_spaces ("
    "  id INTEGER PRIMARY KEY,"
    "  tenant TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  UNIQUE (tenant, type));"
    "CREATE TABLE record_jobs ("
    "  id INTEGER PRIMARY KEY,"
    "  job_id TEXT NOT NULL UNIQUE,"
    "  columns TEXT);"
    "CREATE TABLE records_v6 ("
    "  space INTEGER NOT NULL,"
    "  key_head TEXT NOT NULL,"
    "  key_num INTEGER NOT NULL,"
    "  data TEXT NOT NULL,"
    "  job INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (space, key_head, key_num)) WITHOUT ROWID;"
    "INSERT INTO record_spaces (tenant, type)"
    "  SELECT DISTINCT tenant, type FROM records ORDER BY 1, 2;"
    "INSERT INTO record_jobs (job_id) SELECT DISTINCT job_id FROM records ORDER BY 1;"
    "INSERT INTO records_v6"
    "  SELECT s.id, sl_key_head(r.key), sl_key_num(r.key), r.data, j.id, r.created_at,"
    "    r.updated_at FROM records r"
    "  JOIN record_spaces s ON s.tenant = r.tenant AND s.type = r.type"
    "  JOIN record_jobs j ON j.job_id = r.job_id;"
    "DROP TABLE records;"
    "ALTER TABLE records_v6 RENAME TO records;",
};

#endif
