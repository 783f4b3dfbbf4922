/*
 * sqlite_schema: the versioned migrations of the SQLite store, applied in order by
 * sqlite.c. PRAGMA user_version holds the number of migrations applied. Never edit a
 * migration that has shipped; add a new one.
 */
#ifndef SL_STORE_SQLITE_SCHEMA_H
#define SL_STORE_SQLITE_SCHEMA_H

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
};

#endif
