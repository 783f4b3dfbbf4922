/*
 * Background checkpoints for the SQLite store. In WAL mode every page is written twice: into the
 * WAL at commit, then into the database file by a checkpoint. SQLite's own automatic checkpoint
 * runs inside the commit that crosses its threshold, so the thread that commits (a batch of an
 * import, a claim) also reads the WAL back and writes the database, and waits for the fsync.
 * Here a thread of the store does that on a connection of its own, while writers go on (a
 * PASSIVE checkpoint takes no lock a writer waits for): a large import ran about a fifth faster
 * (docs/benchmarks.md).
 *
 * The WAL stays bounded as before: the hook that replaces SQLite's automatic checkpoint acts at
 * SQ_CKPT_PAGES frames, and if the thread falls far behind (SQ_CKPT_PAGES_MAX frames,
 * a WAL of 32 MiB) the committing connection checkpoints itself, as SQLite would.
 */
#include "store/sqlite_int.h"

#include <stdlib.h>

#define SQ_CKPT_PAGES     1000 /* SQLite's own default threshold */
#define SQ_CKPT_PAGES_MAX 8192 /* frames past which the writer checkpoints itself */
#define SQ_CKPT_BULK      64   /* frames a commit adds to count as a bulk write */

static void *ckpt_main(void *arg)
{
    struct sqlite_store *ss = arg;
    pthread_mutex_lock(&ss->ckpt_lock);
    while (!ss->ckpt_stop) {
        if (!ss->ckpt_wanted) {
            pthread_cond_wait(&ss->ckpt_cond, &ss->ckpt_lock);
            continue;
        }
        ss->ckpt_wanted = 0;
        pthread_mutex_unlock(&ss->ckpt_lock);
        /* What it cannot copy yet (a reader still needs older frames) the next wake-up does. */
        sqlite3_wal_checkpoint_v2(ss->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&ss->ckpt_lock);
    }
    pthread_mutex_unlock(&ss->ckpt_lock);
    return NULL;
}

/*
 * Called by SQLite after each commit on the store's connection (under the store's mutex), with
 * the WAL's frame count. Only bulk writers hand the checkpoint to the thread: for a stream of
 * small commits (the queue's) a checkpoint running beside them costs more than it saves (their
 * fsyncs then queue behind its own, and the WAL cannot start over while it runs: the SQLite
 * queue cycle fell by a quarter), so those checkpoint in line, as SQLite would.
 */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct sqlite_store *ss = arg;
    int added = frames >= ss->ckpt_frames ? frames - ss->ckpt_frames : frames; /* restarted */
    ss->ckpt_frames = frames;
    if (frames < SQ_CKPT_PAGES)
        return SQLITE_OK;
    if (frames >= SQ_CKPT_PAGES_MAX || added < SQ_CKPT_BULK) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else {
        pthread_mutex_lock(&ss->ckpt_lock);
        ss->ckpt_wanted = 1;
        pthread_cond_signal(&ss->ckpt_cond);
        pthread_mutex_unlock(&ss->ckpt_lock);
    }
    return SQLITE_OK;
}

int sq_ckpt_start(struct sqlite_store *ss, const char *path, struct sl_error *err)
{
    pthread_mutex_init(&ss->ckpt_lock, NULL);
    pthread_cond_init(&ss->ckpt_cond, NULL);
    ss->ckpt_inited = 1;
    if (sqlite3_open_v2(path, &ss->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(ss->ckpt_db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
        return sl_err_set(err, SL_ESTORE, "sqlite: cannot open the checkpoint connection: %s",
                          ss->ckpt_db ? sqlite3_errmsg(ss->ckpt_db) : "out of memory");
    if (pthread_create(&ss->ckpt_thread, NULL, ckpt_main, ss) != 0)
        return sl_err_set(err, SL_ESTORE, "sqlite: cannot start the checkpoint thread");
    ss->ckpt_running = 1;
    sqlite3_wal_hook(ss->db, wal_hook, ss); /* replaces SQLite's automatic checkpoint */
    return 0;
}

void sq_ckpt_stop(struct sqlite_store *ss)
{
    if (!ss->ckpt_inited)
        return;
    if (ss->ckpt_running) {
        sqlite3_wal_hook(ss->db, NULL, NULL);
        pthread_mutex_lock(&ss->ckpt_lock);
        ss->ckpt_stop = 1;
        pthread_cond_signal(&ss->ckpt_cond);
        pthread_mutex_unlock(&ss->ckpt_lock);
        pthread_join(ss->ckpt_thread, NULL);
        ss->ckpt_running = 0;
    }
    sqlite3_close_v2(ss->ckpt_db); /* first: the store's own close then checkpoints the rest */
    ss->ckpt_db = NULL;
    pthread_cond_destroy(&ss->ckpt_cond);
    pthread_mutex_destroy(&ss->ckpt_lock);
    ss->ckpt_inited = 0;
}
