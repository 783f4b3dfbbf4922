/*
 * postgres: the job store backend for several nodes, on one PostgreSQL database (libpq).
 *
 * Same semantics as the SQLite store (store.h); what differs is how they are kept: claims take
 * rows with FOR UPDATE SKIP LOCKED, so nodes claiming at once never wait on each other nor share
 * a job; every write is one transaction; a small pool of connections serves the store's callers,
 * each connection reset and the operation run again when the server restarts under it (never
 * twice: see postgres_pool.c). Changes to jobs are announced with NOTIFY for other nodes' live
 * queue (sl_store_watch).
 */
#ifndef SL_STORE_POSTGRES_H
#define SL_STORE_POSTGRES_H

#include "store/store.h"

/* Connects to url ("postgres://user@host:port/db?..."), checks it, and migrates the schema. */
int sl_store_postgres_open(const char *url, struct sl_store **out, struct sl_error *err);

/*
 * Test seam: when set, called at named points of every write ("after commit": the server has
 * committed and answered); a nonzero return drops the connection there, as a network fault
 * would, before the answer is read. NULL (the default) in production.
 */
extern int (*sl_store_postgres_fault)(const char *point);

#endif
