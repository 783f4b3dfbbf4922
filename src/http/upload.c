#include "http/upload.h"
#include "http/multipart.h"
#include "http/routes.h"
#include "util/fsutil.h"
#include "util/jsontext.h"
#include "util/log.h"
#include "util/sha256.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DISCARD_MAX      (16LL << 20) /* body bytes read past an error before hanging up */
#define INLINE_TOTAL_MAX (1 << 20)    /* bytes of small files one request keeps in memory */
#define FIELDS_MAX       64 /* text parts per request (only type and tenant mean anything) */

/*
 * A file part is kept in memory while it is small (SLUICE_INLINE_MAX_BYTES, and at most
 * INLINE_TOTAL_MAX per request): it is then stored inline with its job row, made durable by the
 * same commit, with no temporary file and no fsync of its own. A file that grows past that is
 * spilled to a temporary file and goes to the blob store. The temporary file is open only while
 * its part streams in, so a request holds at most one descriptor whatever its file count.
 */
struct up_file {
    char *mem; /* the bytes while the file is small; NULL once spilled */
    size_t mem_len, mem_cap;
    char tmp[PATH_MAX]; /* "" once moved into the blob store or removed */
    int fd;             /* the temporary file while its part streams in; -1 otherwise */
    int spilled;        /* the bytes are in tmp (or, once stored, in the blob store) */
    struct sl_sha256 *hash;
    int64_t size;
    char name[SL_FILE_NAME_MAX + 1];
    char content_type[256];
    char job_id[SL_UUID_MAX];
    char blob_key[SL_BLOB_KEY_MAX];
    int stored; /* the blob exists under blob_key */
};

enum field { FIELD_NONE, FIELD_TYPE, FIELD_TENANT, FIELD_OTHER };

struct upload {
    struct sl_service *svc;
    struct sl_multipart *mp;
    struct up_file *files;
    size_t count, cap;
    int in_file;
    size_t fields; /* text parts seen */
    enum field field;
    char value[SL_TENANT_MAX + 2]; /* room to notice an over-long value */
    size_t value_len;
    char type[SL_TYPE_MAX + 1];
    char tenant[SL_TENANT_MAX + 1];
    int rc; /* first error; the rest of the body is then discarded */
    struct sl_error err;
    int64_t discarded;
    size_t inline_total; /* bytes of the request's files held in memory */
};

/* ---- names ----------------------------------------------------------------------------- */

void sl_upload_sanitize_name(const char *in, char *out, size_t cap)
{
    const char *base = in;
    for (const char *p = in; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t o = 0, limit = cap - 1 < SL_FILE_NAME_MAX ? cap - 1 : SL_FILE_NAME_MAX;
    const unsigned char *p = (const unsigned char *)base;
    while (*p) {
        size_t n = sl_utf8_len(p);
        if (n == 0) {
            if (o + 1 > limit)
                break;
            out[o++] = '_';
            p++;
            continue;
        }
        if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
            p++;
            continue;
        }
        if (o + n > limit)
            break;
        memcpy(out + o, p, n);
        o += n;
        p += n;
    }
    out[o] = '\0';
    size_t start = 0;
    while (out[start] == ' ')
        start++;
    memmove(out, out + start, o - start + 1);
    o -= start;
    while (o > 0 && out[o - 1] == ' ')
        out[--o] = '\0';
    if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        snprintf(out, cap, "file");
}

void sl_upload_sanitize_content_type(const char *in, char *out, size_t cap)
{
    size_t n = in ? strlen(in) : 0;
    int ok = n > 0 && n < cap && n <= 200;
    for (size_t i = 0; ok && i < n; i++)
        ok = in[i] >= 0x20 && in[i] < 0x7f;
    snprintf(out, cap, "%s", ok ? in : "application/octet-stream");
}

/* ---- multipart callbacks --------------------------------------------------------------- */

/* Records the request's first error; later ones only follow from it. */
static int up_fail(struct upload *u, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int up_fail(struct upload *u, int rc, const char *fmt, ...)
{
    if (!u->rc) {
        va_list ap;
        u->rc = rc;
        u->err.code = rc;
        va_start(ap, fmt);
        vsnprintf(u->err.msg, sizeof u->err.msg, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int begin_file(struct upload *u, const struct sl_part_info *info)
{
    if (u->count == (size_t)u->svc->cfg->max_files)
        return up_fail(u, SL_ETOO_LARGE, "an upload holds at most %d files (SLUICE_MAX_FILES)",
                       u->svc->cfg->max_files);
    if (u->count == u->cap) {
        size_t ncap = u->cap ? u->cap * 2 : 4;
        struct up_file *grown = realloc(u->files, ncap * sizeof *grown);
        if (!grown)
            return up_fail(u, SL_ENOMEM, "out of memory");
        u->files = grown;
        u->cap = ncap;
    }
    struct up_file *f = &u->files[u->count];
    memset(f, 0, sizeof *f);
    f->fd = -1; /* in memory until it outgrows SLUICE_INLINE_MAX_BYTES */
    u->count++;
    if (sl_sha256_new(&f->hash) != 0)
        return up_fail(u, SL_ENOMEM, "out of memory");
    sl_upload_sanitize_name(info->filename, f->name, sizeof f->name);
    sl_upload_sanitize_content_type(info->content_type, f->content_type, sizeof f->content_type);
    return 0;
}

/* Moves a file that outgrew memory to a temporary file. */
static int spill(struct upload *u, struct up_file *f)
{
    int n =
        snprintf(f->tmp, sizeof f->tmp, "%.3900s/up-%ld-XXXXXX", u->svc->tmp_dir, (long)getpid());
    f->fd = n > 0 && (size_t)n < sizeof f->tmp ? mkostemp(f->tmp, O_CLOEXEC) : -1;
    if (f->fd < 0) {
        int rc = sl_errno_rc(errno);
        f->tmp[0] = '\0';
        return up_fail(u, rc, "cannot create a temporary file: %s", strerror(errno));
    }
    f->spilled = 1;
    int rc = sl_write_all(f->fd, f->mem, f->mem_len);
    u->inline_total -= f->mem_len;
    free(f->mem);
    f->mem = NULL;
    f->mem_len = f->mem_cap = 0;
    return rc ? up_fail(u, rc, "cannot write the upload to disk: %s", strerror(errno)) : 0;
}

/* Keeps len more bytes of a small file in memory; 1 when they do not fit (spill instead). */
static int keep_in_memory(struct upload *u, struct up_file *f, const char *data, size_t len)
{
    if (f->spilled || f->mem_len + len > (size_t)u->svc->cfg->inline_max_bytes ||
        u->inline_total + len > INLINE_TOTAL_MAX)
        return 1;
    if (f->mem_len + len > f->mem_cap) {
        size_t want = f->mem_cap ? f->mem_cap * 2 : 4096;
        while (want < f->mem_len + len)
            want *= 2;
        char *grown = realloc(f->mem, want);
        if (!grown)
            return 1;
        f->mem = grown;
        f->mem_cap = want;
    }
    memcpy(f->mem + f->mem_len, data, len);
    f->mem_len += len;
    u->inline_total += len;
    return 0;
}

static int on_part_begin(void *ctx, const struct sl_part_info *info)
{
    struct upload *u = ctx;
    u->in_file = info->filename != NULL;
    if (u->in_file)
        return begin_file(u, info);
    if (++u->fields > FIELDS_MAX)
        return up_fail(u, SL_ETOO_LARGE, "an upload holds at most %d text fields besides its files",
                       FIELDS_MAX);
    u->field = strcmp(info->name, "type") == 0     ? FIELD_TYPE
               : strcmp(info->name, "tenant") == 0 ? FIELD_TENANT
                                                   : FIELD_OTHER;
    u->value_len = 0;
    return 0;
}

static int on_part_data(void *ctx, const char *data, size_t len)
{
    struct upload *u = ctx;
    if (!u->in_file) {
        if (u->field == FIELD_OTHER)
            return 0; /* unknown text fields are ignored */
        size_t room = sizeof u->value - 1 - u->value_len;
        size_t n = len < room ? len : room;
        memcpy(u->value + u->value_len, data, n);
        u->value_len += n;
        return 0;
    }
    struct up_file *f = &u->files[u->count - 1];
    f->size += (int64_t)len;
    if (f->size > u->svc->cfg->max_upload_bytes)
        return up_fail(u, SL_ETOO_LARGE,
                       "file '%s' is larger than the per-file limit (SLUICE_MAX_UPLOAD_BYTES)",
                       f->name);
    sl_sha256_update(f->hash, data, len);
    if (keep_in_memory(u, f, data, len) == 0)
        return 0;
    if (!f->spilled && spill(u, f) != 0)
        return u->rc;
    int rc = sl_write_all(f->fd, data, len);
    if (rc)
        return up_fail(u, rc, "cannot write the upload to disk: %s", strerror(errno));
    return 0;
}

static int on_part_end(void *ctx)
{
    struct upload *u = ctx;
    if (u->in_file) {
        struct up_file *f = &u->files[u->count - 1];
        if (f->fd >= 0 && close(f->fd) != 0) {
            f->fd = -1;
            return up_fail(u, sl_errno_rc(errno), "cannot write the upload to disk: %s",
                           strerror(errno));
        }
        f->fd = -1;
        return 0;
    }
    if (u->field == FIELD_OTHER || u->field == FIELD_NONE)
        return 0;
    char *dst = u->field == FIELD_TYPE ? u->type : u->tenant;
    size_t max = u->field == FIELD_TYPE ? SL_TYPE_MAX : SL_TENANT_MAX;
    u->value[u->value_len] = '\0';
    if (!sl_job_name_valid(u->value, max))
        return up_fail(u, SL_EINVALID,
                       "field '%s' must be 1 to 64 (type) or 128 (tenant) characters of "
                       "A-Z a-z 0-9 _ . -",
                       u->field == FIELD_TYPE ? "type" : "tenant");
    memcpy(dst, u->value, u->value_len + 1);
    return 0;
}

static const struct sl_multipart_cb callbacks = {on_part_begin, on_part_data, on_part_end};

/* ---- lifecycle ------------------------------------------------------------------------- */

/* Removes every file of a request that will not be acknowledged: temporary files and blobs. */
static void discard_files(struct upload *u)
{
    for (size_t i = 0; i < u->count; i++) {
        struct up_file *f = &u->files[i];
        if (f->fd >= 0)
            close(f->fd);
        f->fd = -1;
        if (f->tmp[0])
            unlink(f->tmp);
        f->tmp[0] = '\0';
        if (f->stored)
            sl_blob_remove(u->svc->blob, f->blob_key, NULL);
        f->stored = 0;
    }
}

/* Releases a request; a request that was not acknowledged leaves no file behind. */
static void upload_free(void *state)
{
    struct upload *u = state;
    if (!u)
        return;
    discard_files(u);
    for (size_t i = 0; i < u->count; i++) {
        struct up_file *f = &u->files[i];
        if (f->hash)
            sl_sha256_free(f->hash);
        free(f->mem);
    }
    free(u->files);
    sl_multipart_free(u->mp);
    free(u);
}

int sl_upload_begin(struct sl_req *r)
{
    struct sl_error err = {0};
    char boundary[SL_MULTIPART_BOUNDARY_MAX + 1];
    const struct sl_config *cfg = r->svc->cfg;
    int rc = sl_multipart_boundary(sl_req_header(r, "Content-Type"), boundary, &err);
    if (rc)
        return sl_reply_error(r, rc, &err), rc;
    const char *cl = sl_req_header(r, "Content-Length");
    if (cl) {
        /* more than max_files files of the per-file limit, plus 1 MiB for the part headers
         * (divided rather than multiplied: the product can overflow) */
        long long n = strtoll(cl, NULL, 10), slack = 1LL << 20;
        if (n > slack && (n - slack) / cfg->max_files > cfg->max_upload_bytes)
            return sl_reply_errorf(r, SL_ETOO_LARGE,
                                   "the body is larger than %d files of the per-file limit",
                                   cfg->max_files),
                   SL_ETOO_LARGE;
    }
    struct upload *u = calloc(1, sizeof *u);
    if (!u)
        return sl_reply_error(r, SL_ENOMEM, NULL), SL_ENOMEM;
    u->svc = r->svc;
    snprintf(u->tenant, sizeof u->tenant, "default");
    r->body_state = u;
    r->body_free = upload_free;
    if ((rc = sl_multipart_new(boundary, &callbacks, u, &u->mp)) != 0)
        return sl_reply_error(r, rc, NULL), rc;
    return 0;
}

int sl_upload_body(struct sl_req *r, const char *data, size_t size)
{
    struct upload *u = r->body_state;
    if (u->rc) {
        u->discarded += (int64_t)size;
        return u->discarded > DISCARD_MAX ? -1 : 0;
    }
    int rc = sl_multipart_feed(u->mp, data, size, &u->err);
    if (rc && !u->rc)
        u->rc = rc;
    return 0;
}

/* Moves every spilled file into the blob store (small files go inline with their job); on
 * failure the caller's cleanup removes them. */
static int store_blobs(struct upload *u, const char *upload_id, struct sl_error *err)
{
    for (size_t i = 0; i < u->count; i++) {
        struct up_file *f = &u->files[i];
        int rc = sl_uuid7_us(sl_now_us(), f->job_id); /* its time tells the pickup latency */
        if (rc)
            return sl_err_set(err, rc, "cannot make a job id");
        if (!f->spilled) {
            snprintf(f->blob_key, sizeof f->blob_key, "%s", SL_BLOB_INLINE);
            continue;
        }
        snprintf(f->blob_key, sizeof f->blob_key, "%s/%s", upload_id, f->job_id);
        if ((rc = sl_blob_put_file(u->svc->blob, f->blob_key, f->tmp, err)) != 0)
            return rc;
        f->tmp[0] = '\0';
        f->stored = 1;
    }
    return 0;
}

static void fill_job(struct upload *u, struct up_file *f, const char *upload_id, int64_t now,
                     struct sl_job *j)
{
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", f->job_id);
    snprintf(j->upload_id, sizeof j->upload_id, "%s", upload_id);
    j->tenant = u->tenant;
    j->type = u->type[0] ? u->type : (char *)sl_job_type_for_name(f->name);
    j->file_name = f->name;
    j->content_type = f->content_type;
    snprintf(j->blob_key, sizeof j->blob_key, "%s", f->blob_key);
    j->size = f->size;
    j->status = SL_JOB_PENDING;
    j->max_attempts = u->svc->cfg->max_attempts;
    j->created_at = now;
    j->processing_ms = -1;
    if (!f->spilled) {
        j->inline_data = f->mem ? f->mem : "";
        j->inline_len = f->mem_len;
    }
}

/* Answers 202 with the jobs just stored. */
static int reply_accepted(struct sl_req *r, struct sl_job *jobs, size_t n, const char *upload_id)
{
    json_t *ids = json_array(), *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(ids, json_string(jobs[i].id));
        json_array_append_new(list, sl_job_to_json(&jobs[i]));
    }
    return sl_reply_json(
        r, 202, json_pack("{s:s, s:o, s:o}", "uploadId", upload_id, "jobIds", ids, "jobs", list));
}

int sl_upload_handle(struct sl_req *r)
{
    struct upload *u = r->body_state;
    struct sl_error err = {0};
    char upload_id[SL_UUID_MAX];
    struct sl_job *jobs = NULL;
    int rc = u->rc;

    if (rc)
        err = u->err;
    else if ((rc = sl_multipart_finish(u->mp, &err)) == 0 && u->count == 0)
        rc = sl_err_set(&err, SL_ENO_FILE,
                        "the upload holds no file part; send each file as a multipart part with "
                        "a filename");
    if (rc) {
        discard_files(u);
        return sl_reply_error(r, rc, &err);
    }
    if ((rc = sl_uuid7(sl_now_ms(), upload_id)) != 0 || (rc = store_blobs(u, upload_id, &err)) != 0)
        goto out;
    if (!(jobs = calloc(u->count, sizeof *jobs))) {
        rc = SL_ENOMEM;
        goto out;
    }
    int64_t now = sl_now_ms();
    for (size_t i = 0; i < u->count; i++) {
        fill_job(u, &u->files[i], upload_id, now, &jobs[i]);
        sl_sha256_final(u->files[i].hash, jobs[i].sha256);
        u->files[i].hash = NULL;
    }
    if ((rc = sl_store_insert_jobs(r->svc->store, jobs, u->count, &err)) != 0)
        goto out;
    for (size_t i = 0; i < u->count; i++)
        u->files[i].stored = 0; /* acknowledged: the cleanup must keep them */
    sl_service_upload_stored(r->svc, jobs, u->count);
    rc = reply_accepted(r, jobs, u->count, upload_id);
out:
    free(jobs); /* its strings are borrowed from u */
    if (rc) {
        /* Before the answer, not after it: once refused, nothing may remain, even if the
         * process dies right after answering. */
        discard_files(u);
        if (!r->response) {
            sl_warn("upload rejected: %s", sl_err_msg(&err, rc));
            sl_reply_error(r, rc, &err);
        }
    }
    return rc;
}
