/*
 * sqlite: the embedded job store backend, one SQLite file in WAL mode.
 *
 * Durability: synchronous=FULL, so a committed upload survives power loss. Several processes may
 * share one file: writers take BEGIN IMMEDIATE and wait up to a busy timeout. Within a process
 * one connection is shared under a mutex (SQLite serialises writers anyway).
 */
#ifndef SL_STORE_SQLITE_H
#define SL_STORE_SQLITE_H

#include "store/store.h"

/* Opens (creating when missing) the database file at path and migrates it. */
int sl_store_sqlite_open(const char *path, struct sl_store **out, struct sl_error *err);

#endif
