/*
 * DESIGN: connections, reconnecting, and running an operation at most once.
 *
 * A store holds PG_POOL_SIZE connections, opened when first needed. An operation borrows one
 * (waiting on a condition variable while all are lent), runs, and gives it back idle: an open or
 * failed transaction is rolled back first. libpq connections are not shared between threads, so
 * a borrowed connection is the operation's alone.
 *
 * The server may restart under us. A connection is found broken when a call fails and PQstatus
 * says so, or the server says the session ended (SQLSTATE class 08, 57P0x). The connection
 * is then reset (PQreset, a few tries), and the operation may run again:
 * - a read (PG_READ, PG_SNAPSHOT) always may;
 * - a write runs in a transaction whose id (txid_current) is read at BEGIN. BEGIN and that read
 *   go out in one pipeline with the write's first statement, so they cost no round trip of their
 *   own (a write is then two round trips: its statements, and COMMIT). If the connection
 *   broke before COMMIT was sent, nothing was stored and the write runs again. If it broke after,
 *   the commit may or may not have happened, so we ask the server (txid_status): committed means
 *   done (the outputs, read before COMMIT, stand); aborted means run again; anything else is
 *   reported as a store error that says the outcome is unknown. So a write is never applied
 *   twice, and, unless the server cannot tell, an upload is never answered "failed" (and its
 *   file removed) when its jobs were in fact stored. sl_store_postgres_fault lets the tests
 *   drop the connection right after a commit, to prove it.
 * A run that loses its connection goes again once; a deadlock or serialization failure (the
 * server rolled the transaction back) goes again up to PG_TRANSIENT_TRIES times.
 */
#include "store/postgres.h"
#include "store/postgres_int.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define PG_CONNECT_TIMEOUT "10" /* s, unless the URL says otherwise */
#define PG_RESET_TRIES     3
#define PG_TRANSIENT_TRIES 3
#define PG_FATE_TRIES      5 /* asks for a transaction's fate while it is still in progress */

enum pg_fate { PG_FATE_ABORTED, PG_FATE_COMMITTED, PG_FATE_UNKNOWN };

int (*sl_store_postgres_fault)(const char *point);

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Server notices (e.g. "already exists, skipping") are not errors: debug log only. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    sl_debug("postgres: %.200s", message);
}

int pg_connect(const char *url, PGconn **out, struct sl_error *err)
{
    /* Keywords before dbname are defaults the URL may override; expand_dbname reads the URL.
     * TCP keepalives find a server that vanished (its host died, the network split) in about
     * a minute instead of hours, for the listening session above all. */
    const char *const keys[] = {
        "connect_timeout",     "application_name", "client_encoding", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname",          NULL};
    const char *const vals[] = {PG_CONNECT_TIMEOUT, "sluice", "UTF8", "30", "10", "3", url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    *out = NULL;
    if (!c)
        return SL_ENOMEM;
    if (PQstatus(c) != CONNECTION_OK) {
        int rc = pg_fail(err, "cannot connect", PQerrorMessage(c));
        PQfinish(c);
        return rc;
    }
    PQsetNoticeProcessor(c, on_notice, NULL);
    *out = c;
    return 0;
}

int pg_reconnect(PGconn *conn, struct sl_error *err)
{
    for (int i = 0; i < PG_RESET_TRIES; i++) {
        if (i)
            sleep_ms(100L << i);
        PQreset(conn);
        if (PQstatus(conn) == CONNECTION_OK)
            return 0;
    }
    return pg_fail(err, "connection lost, reconnecting failed", PQerrorMessage(conn));
}

void pg_pool_init(struct pg_store *ps)
{
    pthread_mutex_init(&ps->lock, NULL);
    pthread_cond_init(&ps->returned, NULL);
}

/* Forgets a slot's prepared statements (its session ended, or the pool closes). */
static void prepared_clear(struct pg_slot *s)
{
    for (int i = 0; i < s->n_prepared; i++)
        free(s->prepared[i].text);
    s->n_prepared = 0;
}

void pg_pool_fini(struct pg_store *ps)
{
    for (int i = 0; i < PG_POOL_SIZE; i++) {
        prepared_clear(&ps->slots[i]);
        if (ps->slots[i].conn)
            PQfinish(ps->slots[i].conn);
    }
    pthread_cond_destroy(&ps->returned);
    pthread_mutex_destroy(&ps->lock);
}

/* Picks a free slot, preferring one whose connection is already open. */
static int pick_slot(struct pg_store *ps)
{
    int pick = -1;
    for (int i = 0; i < PG_POOL_SIZE; i++)
        if (!ps->slots[i].busy && (pick < 0 || (ps->slots[i].conn && !ps->slots[pick].conn)))
            pick = i;
    return pick;
}

static void give_back(struct pg_store *ps, int slot)
{
    PGconn *c = ps->slots[slot].conn;
    if (c && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    pthread_mutex_lock(&ps->lock);
    ps->slots[slot].busy = 0;
    pthread_cond_signal(&ps->returned);
    pthread_mutex_unlock(&ps->lock);
}

/* Lends a connected slot: opens its connection, or resets one known to be broken. */
static int borrow(struct pg_store *ps, int *slot, struct sl_error *err)
{
    int i, rc = 0;
    pthread_mutex_lock(&ps->lock);
    while ((i = pick_slot(ps)) < 0)
        pthread_cond_wait(&ps->returned, &ps->lock);
    ps->slots[i].busy = 1;
    pthread_mutex_unlock(&ps->lock);
    if (!ps->slots[i].conn)
        rc = pg_connect(ps->url, &ps->slots[i].conn, err);
    else if (PQstatus(ps->slots[i].conn) != CONNECTION_OK)
        rc = pg_reconnect(ps->slots[i].conn, err);
    if (rc) {
        give_back(ps, i);
        return rc;
    }
    *slot = i;
    return 0;
}

/* ---- statements ------------------------------------------------------------------------ */

/* Why a call failed: the connection, a transient conflict, or the statement itself. */
static void classify(struct pg_tx *tx, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(tx->conn) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
        (state && strncmp(state, "57P0", 4) == 0)) /* the server ended the session */
        tx->lost = 1;
    else if (state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0))
        tx->transient = 1;
}

/* Classifies a failed call and records the server's message (its first line, or libpq's). */
static int call_failed(struct pg_tx *tx, const PGresult *res, struct sl_error *err)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    classify(tx, res);
    if (!msg)
        msg = res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                                                : PQerrorMessage(tx->conn);
    return pg_fail(err, tx->what ? tx->what : "query", msg);
}

static void params_clear(struct pg_params *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->owned[i]);
    memset(p, 0, sizeof *p);
}

/*
 * The name of sql's prepared statement on tx's session, preparing it on first use; NULL when it
 * is not to be prepared (no slot, cache full) or preparing failed (*failed set: the result).
 */
static const char *prepared_name(struct pg_tx *tx, const char *sql, int nparams, char name[16],
                                 PGresult **failed)
{
    struct pg_slot *s = tx->slot;
    *failed = NULL;
    if (!s)
        return NULL;
    if (PQbackendPID(tx->conn) != s->backend_pid) { /* a new session: nothing prepared */
        prepared_clear(s);
        s->backend_pid = PQbackendPID(tx->conn);
    }
    for (int i = 0; i < s->n_prepared; i++)
        if (s->prepared[i].sql == sql && strcmp(s->prepared[i].text, sql) == 0) {
            snprintf(name, 16, "sl%d", i);
            return name;
        }
    if (s->n_prepared == PG_PREPARED_MAX)
        return NULL;
    char *text = strdup(sql);
    if (!text)
        return NULL;
    snprintf(name, 16, "sl%d", s->n_prepared);
    PGresult *r = PQprepare(tx->conn, name, sql, nparams, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        free(text);
        *failed = r;
        return NULL;
    }
    PQclear(r);
    s->prepared[s->n_prepared++] = (struct pg_prepared){sql, text};
    return name;
}

/* The result of the pipeline's next statement, with the NULL that ends it read too. */
static PGresult *pipeline_result(PGconn *c)
{
    PGresult *r = PQgetResult(c), *extra;
    /* One result per statement here; the bound only guards against a broken connection. */
    for (int i = 0; i < 8 && (extra = PQgetResult(c)) != NULL; i++)
        PQclear(extra);
    return r;
}

/* Keeps the first failed result of a pipeline in *failed, and clears the others. */
static void keep_failure(PGresult *r, ExecStatusType want, PGresult **failed)
{
    if (!*failed && (!r || PQresultStatus(r) != want))
        *failed = r ? r : PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    else
        PQclear(r);
}

/*
 * A write's first statement: BEGIN, SELECT txid_current() and the statement go out in one
 * pipeline. Returns the statement's result, or the first failure of the three (the server stops
 * at a failed one); NULL when not even that could be had.
 */
static PGresult *exec_with_begin(struct pg_tx *tx, const char *prepared, const char *sql,
                                 const struct pg_params *p)
{
    PGconn *c = tx->conn;
    PGresult *failed = NULL, *r;
    tx->begin_pending = 0;
    if (!PQenterPipelineMode(c))
        return NULL;
    int sent = PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) &&
               PQsendQueryParams(c, "SELECT txid_current()", 0, NULL, NULL, NULL, NULL, 0) &&
               (prepared ? PQsendQueryPrepared(c, prepared, p->n, p->vals, p->lens, p->fmts,
                                               p->result_format)
                         : PQsendQueryParams(c, sql, p->n, NULL, p->vals, p->lens, p->fmts,
                                             p->result_format)) &&
               PQpipelineSync(c);
    if (!sent) /* the connection is gone; PQreset leaves pipeline mode */
        return NULL;
    keep_failure(pipeline_result(c), PGRES_COMMAND_OK, &failed);
    r = pipeline_result(c);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        pg_copy(r, 0, 0, tx->xid, sizeof tx->xid);
    keep_failure(r, PGRES_TUPLES_OK, &failed);
    r = pipeline_result(c);
    if (failed)
        PQclear(r);
    else
        failed = r; /* the statement's own result, good or bad */
    PGresult *sync = PQgetResult(c);
    int synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || !PQexitPipelineMode(c)) { /* the connection broke on the way */
        PQclear(failed);
        return NULL;
    }
    return failed;
}

int pg_exec(struct pg_tx *tx, const char *sql, struct pg_params *p, PGresult **res,
            struct sl_error *err)
{
    struct pg_params none = {0};
    PGresult *r = NULL;
    int rc = 0;

    if (res)
        *res = NULL;
    if (!p)
        p = &none;
    if (p->oom) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    char name[16];
    const char *prepared = prepared_name(tx, sql, p->n, name, &r);
    if (!r && tx->begin_pending)
        r = exec_with_begin(tx, prepared, sql, p);
    else if (prepared)
        r = PQexecPrepared(tx->conn, prepared, p->n, p->vals, p->lens, p->fmts, p->result_format);
    else if (!r)
        r = PQexecParams(tx->conn, sql, p->n, NULL, p->vals, p->lens, p->fmts, p->result_format);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = call_failed(tx, r, err);
        PQclear(r);
        r = NULL;
    }
out:
    params_clear(p);
    if (res)
        *res = r;
    else
        PQclear(r);
    return rc;
}

int pg_exec_cmd(struct pg_tx *tx, const char *sql, struct pg_params *p, int64_t *changed,
                struct sl_error *err)
{
    PGresult *r;
    int rc = pg_exec(tx, sql, p, &r, err);
    if (rc == 0 && changed)
        *changed = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return rc;
}

/* BEGIN a write now, and read its transaction id: for a first call that is not a statement. */
static int begin_now(struct pg_tx *tx, struct sl_error *err)
{
    PGresult *r;
    int rc;
    tx->begin_pending = 0;
    r = PQexec(tx->conn, "BEGIN; SELECT txid_current()");
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        pg_copy(r, 0, 0, tx->xid, sizeof tx->xid);
        rc = 0;
    } else {
        rc = call_failed(tx, r, err);
    }
    PQclear(r);
    return rc;
}

int pg_exec_script(struct pg_tx *tx, const char *sql, struct sl_error *err)
{
    if (tx->begin_pending) {
        int rc = begin_now(tx, err);
        if (rc)
            return rc;
    }
    PGresult *r = PQexec(tx->conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = call_failed(tx, r, err);
    }
    PQclear(r);
    return rc;
}

/* ---- one run of an operation ----------------------------------------------------------- */

static int begin(struct pg_tx *tx, struct sl_error *err)
{
    if (tx->mode == PG_SNAPSHOT)
        return pg_exec_script(tx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    tx->begin_pending = tx->mode == PG_WRITE; /* sent with the first statement (pg_exec) */
    return 0;
}

static int commit(struct pg_tx *tx, struct sl_error *err)
{
    PGresult *r;
    int rc = 0;
    if (tx->begin_pending) { /* no statement ran: there is no transaction to commit */
        tx->begin_pending = 0;
        return 0;
    }
    tx->commit_sent = tx->mode == PG_WRITE;
    r = PQexec(tx->conn, "COMMIT");
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = call_failed(tx, r, err);
    } else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) { /* the server rolled it back */
        rc = pg_fail(err, tx->what, "the transaction was rolled back at commit");
    } else if (tx->commit_sent && sl_store_postgres_fault &&
               sl_store_postgres_fault("after commit")) {
        /* The answer "never arrived": the connection drops as a network fault would drop it. */
        shutdown(PQsocket(tx->conn), SHUT_RDWR);
        tx->lost = 1;
        rc = pg_fail(err, tx->what, "connection dropped after COMMIT (injected fault)");
    }
    PQclear(r);
    return rc;
}

static int run_once(struct pg_tx *tx, const struct pg_op *op, void *ctx, struct sl_error *err)
{
    int rc = begin(tx, err);
    if (rc == 0)
        rc = op->run(tx, ctx, err);
    if (rc == 0 && tx->mode != PG_READ)
        rc = commit(tx, err);
    if (rc && !tx->lost && PQtransactionStatus(tx->conn) != PQTRANS_IDLE)
        PQclear(PQexec(tx->conn, "ROLLBACK"));
    return rc;
}

/* After a lost COMMIT, on the new connection: did the transaction commit? */
static enum pg_fate ask_fate(struct pg_tx *tx, struct sl_error *err)
{
    for (int i = 0; i < PG_FATE_TRIES; i++) {
        struct pg_tx probe = {.conn = tx->conn, .mode = PG_READ, .what = "commit outcome"};
        struct pg_params p = {0};
        PGresult *r;
        if (i)
            sleep_ms(100);
        pg_p_text(&p, tx->xid);
        if (pg_exec(&probe, "SELECT txid_status($1::bigint)", &p, &r, err) != 0)
            break;
        const char *fate = PQntuples(r) == 1 && !pg_is_null(r, 0, 0) ? PQgetvalue(r, 0, 0) : "";
        enum pg_fate f = strcmp(fate, "committed") == 0 ? PG_FATE_COMMITTED
                         : strcmp(fate, "aborted") == 0 ? PG_FATE_ABORTED
                                                        : PG_FATE_UNKNOWN;
        int again = strcmp(fate, "in progress") == 0;
        PQclear(r);
        if (!again)
            return f;
    }
    return PG_FATE_UNKNOWN;
}

/* Reconnects after a lost connection and says whether the run took effect. */
static enum pg_fate recover(struct pg_tx *tx, const struct pg_op *op, struct sl_error *err)
{
    struct sl_error probe_err = {0};
    if (pg_reconnect(tx->conn, err) != 0)
        return PG_FATE_UNKNOWN;
    if (!tx->commit_sent)
        return PG_FATE_ABORTED;
    enum pg_fate f = ask_fate(tx, &probe_err);
    if (f == PG_FATE_UNKNOWN)
        pg_fail(err, op->what,
                "the connection was lost while committing and whether the change was stored "
                "is unknown; check the job before trying again");
    return f;
}

int pg_run(struct pg_store *ps, const struct pg_op *op, void *ctx, struct sl_error *err)
{
    int slot, rc = borrow(ps, &slot, err);
    if (rc)
        return rc;
    for (int attempt = 0, lost_once = 0;; attempt++) {
        struct pg_tx tx = {.conn = ps->slots[slot].conn,
                           .slot = &ps->slots[slot],
                           .mode = op->mode,
                           .what = op->what};
        rc = run_once(&tx, op, ctx, err);
        if (rc == 0)
            break;
        if (tx.lost) {
            enum pg_fate f = recover(&tx, op, err);
            if (f == PG_FATE_COMMITTED) {
                rc = 0;
                break;
            }
            if (f == PG_FATE_ABORTED && !lost_once) {
                sl_warn("postgres: connection lost during %s; reconnected, running it again",
                        op->what);
                lost_once = 1;
                if (op->undo)
                    op->undo(ctx);
                continue;
            }
        } else if (tx.transient && attempt < PG_TRANSIENT_TRIES) {
            if (op->undo)
                op->undo(ctx);
            continue;
        }
        if (op->undo)
            op->undo(ctx);
        break;
    }
    give_back(ps, slot);
    return rc;
}
