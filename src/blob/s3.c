#include "blob/s3.h"
#include "blob/s3_sign.h"
#include "util/config.h"
#include "util/fsutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SINGLE_PUT_MAX (16LL * 1024 * 1024) /* bytes: larger files go in a multipart upload */
#define PART_SIZE      (8LL * 1024 * 1024)  /* bytes per part (S3's minimum is 5 MiB) */
#define PARTS_MAX      10000                /* S3's limit on parts per upload */
#define ATTEMPTS       3                    /* tries per request on 5xx, 429, SlowDown */
#define BACKOFF_MS     200                  /* ms before the second try; doubles after */
#define RESP_MAX       65536                /* bytes of a response body kept (XML) */
#define ETAG_MAX       128
#define URL_MAX        2048
#define UPLOAD_ID_MAX  256 /* bytes of an UploadId as S3 sends it */
#define QUERY_MAX      1024
#define PATH_ENC_MAX   1536

struct s3_blob {
    struct sl_blob base; /* first: the interface */
    char endpoint[512];  /* scheme://host[:port], no path, no trailing slash */
    char host[256];      /* host[:port]: the Host header, sent and signed */
    char root[1024];     /* URI-encoded "<endpoint path>/<bucket>[/<prefix>]" */
    char bucket[64];
    char region[64];
    char access_key[256];
    char secret_key[256];
    char *session_token; /* malloc'd, or NULL */
    char tmp_dir[PATH_MAX];
};

/* One HTTP exchange: what to send, where the answer goes, and what came back.
 */
struct s3_req {
    const char *method;
    const char *key;   /* the blob key, or NULL for the bucket itself */
    const char *query; /* canonical query string (sent as is); "" for none */
    FILE *in;          /* PUT body: in_len bytes of in from offset in_off */
    int64_t in_off, in_len, in_left;
    const char *mem; /* POST body (mem_len bytes), or NULL */
    size_t mem_len;
    int out_fd;    /* where a 2xx GET body goes, or -1 */
    int out_errno; /* errno of a failed write to out_fd */
    CURL *curl;    /* while performing */
    /* the answer */
    long status;
    CURLcode curl_rc;
    char curl_msg[CURL_ERROR_SIZE];
    char etag[ETAG_MAX];
    curl_off_t content_length; /* -1 when not given */
    char *body;                /* NUL-terminated, at most RESP_MAX bytes */
    size_t body_len;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static struct s3_blob *cast(struct sl_blob *b)
{
    return (struct s3_blob *)b;
}

/* ---------------------------------------------------------------------------------------------
 * Responses
 */

/* Copies the text of the first <tag>...</tag> in xml into out; "" when there is
 * none. */
static void xml_text(const char *xml, const char *tag, char *out, size_t cap)
{
    char open_tag[64], close_tag[64];
    out[0] = '\0';
    if (!xml)
        return;
    snprintf(open_tag, sizeof open_tag, "<%s>", tag);
    snprintf(close_tag, sizeof close_tag, "</%s>", tag);
    const char *a = strstr(xml, open_tag);
    if (!a)
        return;
    a += strlen(open_tag);
    const char *z = strstr(a, close_tag);
    if (!z)
        return;
    size_t n = (size_t)(z - a) < cap - 1 ? (size_t)(z - a) : cap - 1;
    memcpy(out, a, n);
    out[n] = '\0';
}

static int is_2xx(long status)
{
    return status >= 200 && status < 300;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct s3_req *r = arg;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    if (r->out_fd >= 0 && is_2xx(status)) {
        if (sl_write_all(r->out_fd, data, len) != 0) {
            r->out_errno = errno ? errno : EIO;
            return 0; /* curl stops with CURLE_WRITE_ERROR */
        }
        return len;
    }
    size_t keep = len < RESP_MAX - r->body_len ? len : RESP_MAX - r->body_len;
    memcpy(r->body + r->body_len, data, keep);
    r->body_len += keep;
    r->body[r->body_len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct s3_req *r = arg;
    size_t len = size * n;
    if (len > 5 && strncasecmp(data, "etag:", 5) == 0) {
        size_t a = 5, z = len;
        while (a < z && (data[a] == ' ' || data[a] == '\t'))
            a++;
        while (z > a && (data[z - 1] == '\r' || data[z - 1] == '\n' || data[z - 1] == ' '))
            z--;
        if (z - a < sizeof r->etag) {
            memcpy(r->etag, data + a, z - a);
            r->etag[z - a] = '\0';
        }
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    struct s3_req *r = arg;
    size_t want = size * n;
    if ((int64_t)want > r->in_left)
        want = (size_t)r->in_left;
    if (want == 0)
        return 0;
    size_t got = fread(buf, 1, want, r->in);
    if (got == 0)
        return CURL_READFUNC_ABORT; /* the file shrank or failed under us */
    r->in_left -= (int64_t)got;
    return got;
}

/* ---------------------------------------------------------------------------------------------
 * Requests
 */

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    char line[4096];
    if (snprintf(line, sizeof line, "%s: %s", name, value) >= (int)sizeof line)
        return SL_EINVALID;
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return SL_ENOMEM;
    *list = l;
    return 0;
}

/* The URI-encoded path of key (or of the bucket when key is NULL). */
static int object_path(const struct s3_blob *sb, const char *key, char *out, size_t cap)
{
    char enc[256];
    if (!key)
        return snprintf(out, cap, "%s", sb->root) < (int)cap ? 0 : SL_EINVALID;
    if (sl_s3_uri_encode(key, 1, enc, sizeof enc) != 0)
        return SL_EINVALID;
    return snprintf(out, cap, "%s/%s", sb->root, enc) < (int)cap ? 0 : SL_EINVALID;
}

/* Signs r and builds its header list; the caller frees *list. */
static int sign_headers(const struct s3_blob *sb, const struct s3_req *r, const char *path,
                        struct curl_slist **list)
{
    char date[32], hash[65];
    struct tm tm;
    time_t now = time(NULL);
    struct sl_s3_signature *sig = malloc(sizeof *sig);
    int rc = SL_ENOMEM;

    if (!sig)
        return rc;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
    if (r->mem)
        sl_s3_sha256_hex(r->mem, r->mem_len, hash);
    else
        snprintf(hash, sizeof hash, "%s", r->in ? "UNSIGNED-PAYLOAD" : SL_S3_EMPTY_SHA256);
    struct sl_s3_header hs[4] = {
        {"host", sb->host},
        {"x-amz-content-sha256", hash},
        {"x-amz-date", date},
        {"x-amz-security-token", sb->session_token},
    };
    struct sl_s3_sign_input in = {
        .method = r->method,
        .uri = path,
        .query = r->query,
        .headers = hs,
        .n_headers = sb->session_token ? 4 : 3,
        .payload_hash = hash,
        .amz_date = date,
        .region = sb->region,
        .access_key = sb->access_key,
        .secret_key = sb->secret_key,
    };
    if ((rc = sl_s3_sign(&in, sig)) != 0)
        goto out;
    for (size_t i = 0; i < in.n_headers && rc == 0; i++)
        rc = add_header(list, i == 0 ? "Host" : hs[i].name, hs[i].value);
    if (rc == 0)
        rc = add_header(list, "Authorization", sig->authorization);
    if (rc == 0) /* no 100-continue round trip before each body */
        rc = add_header(list, "Expect", "");
    if (rc == 0 && r->mem)
        rc = add_header(list, "Content-Type", "application/xml");
out:
    free(sig);
    return rc;
}

static void set_method(CURL *c, struct s3_req *r)
{
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (r->in) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, r);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->in_len);
    } else if (r->mem) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->mem);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->mem_len);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    }
}

/* One attempt of r. Returns 0 once an answer (any status) or a transport error
 * is in r. */
static int perform_once(struct s3_blob *sb, struct s3_req *r)
{
    char path[PATH_ENC_MAX], url[URL_MAX];
    struct curl_slist *headers = NULL;
    int rc;

    if ((rc = object_path(sb, r->key, path, sizeof path)) != 0)
        return rc;
    if (snprintf(url, sizeof url, "%s%s%s%s", sb->endpoint, path, r->query[0] ? "?" : "",
                 r->query) >= (int)sizeof url)
        return SL_EINVALID;
    if ((rc = sign_headers(sb, r, path, &headers)) != 0)
        goto out;
    CURL *c = curl_easy_init();
    if (!c) {
        rc = SL_ENOMEM;
        goto out;
    }
    r->curl = c;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_msg);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* give up on a transfer stalled 60 s */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    set_method(c, r);
    r->curl_rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &r->content_length);
    curl_easy_cleanup(c);
    r->curl = NULL;
    /* CompleteMultipartUpload can fail after its 200: the error is in the body */
    if (r->curl_rc == CURLE_OK && is_2xx(r->status) && strstr(r->body, "<Error>"))
        r->status = 500;
out:
    curl_slist_free_all(headers);
    return rc;
}

static int retryable(const struct s3_req *r)
{
    char code[64];
    switch (r->curl_rc) {
    case CURLE_OK:
        break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return 1;
    default:
        return 0;
    }
    xml_text(r->body, "Code", code, sizeof code);
    return r->status >= 500 || r->status == 429 || strcmp(code, "SlowDown") == 0;
}

/* Readies r for a (new) attempt: rewinds the body to send and empties the one
 * received. */
static int rewind_req(struct s3_req *r)
{
    r->status = 0;
    r->curl_rc = CURLE_OK;
    r->curl_msg[0] = r->etag[0] = r->body[0] = '\0';
    r->body_len = 0;
    r->content_length = -1;
    r->out_errno = 0;
    if (r->in) {
        if (fseeko(r->in, (off_t)r->in_off, SEEK_SET) != 0)
            return sl_errno_rc(errno);
        r->in_left = r->in_len;
    }
    if (r->out_fd >= 0 && (ftruncate(r->out_fd, 0) != 0 || lseek(r->out_fd, 0, SEEK_SET) != 0))
        return sl_errno_rc(errno);
    return 0;
}

/* Performs r, trying again with exponential backoff while the failure is
 * transient. */
static int perform(struct s3_blob *sb, struct s3_req *r)
{
    long wait_ms = BACKOFF_MS;
    int rc = 0;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
        if ((rc = rewind_req(r)) != 0 || (rc = perform_once(sb, r)) != 0)
            return rc;
        if (!retryable(r) || attempt == ATTEMPTS)
            break;
        struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        wait_ms *= 2;
    }
    return 0;
}

/* Turns a failed exchange into an SL_E* code and a sentence naming the cause.
 */
static int fail(const struct s3_blob *sb, const struct s3_req *r, const char *key,
                struct sl_error *err)
{
    char code[64], msg[96];
    const char *what = key ? key : sb->bucket;
    if (r->out_errno)
        return sl_err_set(err, sl_errno_rc(r->out_errno),
                          "cannot write blob %s to a temporary file: %s", what,
                          strerror(r->out_errno));
    if (r->curl_rc == CURLE_COULDNT_CONNECT || r->curl_rc == CURLE_COULDNT_RESOLVE_HOST ||
        r->curl_rc == CURLE_OPERATION_TIMEDOUT)
        return sl_err_set(err, SL_EBLOB, "cannot reach the S3 endpoint %s: %s", sb->endpoint,
                          r->curl_msg[0] ? r->curl_msg : curl_easy_strerror(r->curl_rc));
    if (r->curl_rc != CURLE_OK)
        return sl_err_set(err, SL_EBLOB, "S3 %s of %s failed: %s", r->method, what,
                          r->curl_msg[0] ? r->curl_msg : curl_easy_strerror(r->curl_rc));
    xml_text(r->body, "Code", code, sizeof code);
    xml_text(r->body, "Message", msg, sizeof msg);
    if (r->status == 403)
        return sl_err_set(err, SL_EBLOB,
                          "S3 refused the credentials (403): %s; check AWS_ACCESS_KEY_ID, "
                          "AWS_SECRET_ACCESS_KEY and AWS_REGION",
                          code[0] ? code : "AccessDenied");
    if (strcmp(code, "NoSuchBucket") == 0)
        return sl_err_set(err, SL_EBLOB, "bucket '%s' does not exist at %s", sb->bucket,
                          sb->endpoint);
    if (r->status == 404)
        return sl_err_set(err, SL_ENOT_FOUND, "blob %s is missing", what);
    return sl_err_set(err, SL_EBLOB, "S3 %s of %s answered %ld %s%s%s", r->method, what, r->status,
                      code, msg[0] ? ": " : "", msg);
}

static int req_init(struct s3_req *r, const char *method, const char *key, const char *query)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->key = key;
    r->query = query;
    r->out_fd = -1;
    r->body = malloc(RESP_MAX + 1);
    if (!r->body)
        return SL_ENOMEM;
    r->body[0] = '\0';
    return 0;
}

/* Performs r and answers 0 on a 2xx, else the mapped error. Frees nothing. */
static int exchange(struct s3_blob *sb, struct s3_req *r, struct sl_error *err)
{
    int rc = perform(sb, r);
    if (rc)
        return sl_err_set(err, rc, "S3 %s of %s: %s", r->method, r->key ? r->key : sb->bucket,
                          sl_err_default_msg(rc));
    if (r->curl_rc == CURLE_OK && is_2xx(r->status))
        return 0;
    return fail(sb, r, r->key, err);
}

/* ---------------------------------------------------------------------------------------------
 * Upload
 */

static int put_single(struct s3_blob *sb, const char *key, FILE *f, int64_t size,
                      struct sl_error *err)
{
    struct s3_req r;
    int rc = req_init(&r, "PUT", key, "");
    if (rc == 0) {
        r.in = f;
        r.in_len = size;
        rc = exchange(sb, &r, err);
    }
    free(r.body);
    return rc;
}

/* A request on the multipart upload upload_id (URI-encoded); part 0 means none.
 */
static int multipart_req(struct s3_req *r, const char *method, const char *key,
                         const char *upload_id, int part, char *query, size_t cap)
{
    if (part)
        snprintf(query, cap, "partNumber=%d&uploadId=%s", part, upload_id);
    else
        snprintf(query, cap, "uploadId=%s", upload_id);
    return req_init(r, method, key, query);
}

static int create_upload(struct s3_blob *sb, const char *key, char *id, size_t cap,
                         struct sl_error *err)
{
    struct s3_req r;
    char raw[UPLOAD_ID_MAX];
    int rc = req_init(&r, "POST", key, "uploads=");
    if (rc)
        return rc;
    r.mem = "";
    if ((rc = exchange(sb, &r, err)) != 0)
        goto out;
    xml_text(r.body, "UploadId", raw, sizeof raw);
    if (!raw[0] || sl_s3_uri_encode(raw, 0, id, cap) != 0)
        rc = sl_err_set(err, SL_EBLOB, "S3 started a multipart upload of %s without a usable id",
                        key);
out:
    free(r.body);
    return rc;
}

static int upload_part(struct s3_blob *sb, const char *key, const char *id, FILE *f, int part,
                       int64_t size, char etag[ETAG_MAX], struct sl_error *err)
{
    struct s3_req r;
    char query[QUERY_MAX];
    int rc = multipart_req(&r, "PUT", key, id, part, query, sizeof query);
    if (rc)
        goto out;
    r.in = f;
    r.in_off = (int64_t)(part - 1) * PART_SIZE;
    r.in_len = size - r.in_off < PART_SIZE ? size - r.in_off : PART_SIZE;
    if ((rc = exchange(sb, &r, err)) != 0)
        goto out;
    if (!r.etag[0])
        rc = sl_err_set(err, SL_EBLOB, "S3 accepted part %d of %s without an ETag", part, key);
    snprintf(etag, ETAG_MAX, "%s", r.etag);
out:
    free(r.body);
    return rc;
}

static int complete_upload(struct s3_blob *sb, const char *key, const char *id,
                           char (*etags)[ETAG_MAX], int parts, struct sl_error *err)
{
    struct s3_req r;
    char query[QUERY_MAX];
    size_t cap = (size_t)parts * (ETAG_MAX + 64) + 128, len = 0;
    char *xml = malloc(cap);
    int rc = xml ? multipart_req(&r, "POST", key, id, 0, query, sizeof query) : SL_ENOMEM;
    if (rc) {
        free(xml);
        return rc;
    }
    len += (size_t)snprintf(xml, cap, "<CompleteMultipartUpload>");
    for (int i = 0; i < parts; i++)
        len += (size_t)snprintf(xml + len, cap - len,
                                "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
                                etags[i]);
    len += (size_t)snprintf(xml + len, cap - len, "</CompleteMultipartUpload>");
    r.mem = xml;
    r.mem_len = len;
    rc = exchange(sb, &r, err);
    free(r.body);
    free(xml);
    return rc;
}

static void abort_upload(struct s3_blob *sb, const char *key, const char *id)
{
    struct s3_req r;
    char query[QUERY_MAX];
    if (multipart_req(&r, "DELETE", key, id, 0, query, sizeof query) == 0)
        perform(sb, &r); /* best effort: a bucket lifecycle rule reaps what this misses */
    free(r.body);
}

static int put_multipart(struct s3_blob *sb, const char *key, FILE *f, int64_t size,
                         struct sl_error *err)
{
    int64_t parts = (size + PART_SIZE - 1) / PART_SIZE;
    char id[3 * UPLOAD_ID_MAX]; /* URI-encoded */
    int rc;

    if (parts > PARTS_MAX)
        return sl_err_set(err, SL_ETOO_LARGE,
                          "file of %" PRId64 " bytes is over the S3 limit of "
                          "%d parts of 8 MiB",
                          size, PARTS_MAX);
    char(*etags)[ETAG_MAX] = calloc((size_t)parts, ETAG_MAX);
    if (!etags)
        return SL_ENOMEM;
    if ((rc = create_upload(sb, key, id, sizeof id, err)) != 0)
        goto out;
    for (int p = 1; p <= parts && rc == 0; p++)
        rc = upload_part(sb, key, id, f, p, size, etags[p - 1], err);
    if (rc == 0)
        rc = complete_upload(sb, key, id, etags, (int)parts, err);
    if (rc)
        abort_upload(sb, key, id);
out:
    free(etags);
    return rc;
}

static int s3_put_file(struct sl_blob *b, const char *key, const char *src_path,
                       struct sl_error *err)
{
    struct s3_blob *sb = cast(b);
    struct stat st;
    int rc;
    FILE *f = fopen(src_path, "rbe");
    if (!f)
        return sl_err_set(err, sl_errno_rc(errno), "cannot open upload %s: %s", src_path,
                          strerror(errno));
    if (fstat(fileno(f), &st) != 0) {
        rc = sl_err_set(err, sl_errno_rc(errno), "cannot stat upload: %s", strerror(errno));
        goto out;
    }
    if (st.st_size > SINGLE_PUT_MAX)
        rc = put_multipart(sb, key, f, (int64_t)st.st_size, err);
    else
        rc = put_single(sb, key, f, (int64_t)st.st_size, err);
    if (rc == 0)
        unlink(src_path); /* the blob is durable in S3; a leftover file would only
                             waste space */
out:
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Download and removal
 */

/* An unlinked read-write file: O_TMPFILE in tmp_dir, else a named file unlinked
 * at once. */
static int make_tmp(const struct s3_blob *sb)
{
    char path[PATH_MAX];
    int fd = open(sb->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    const char *t = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/sluice-s3-XXXXXX", t && *t ? t : "/tmp");
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static int s3_open(struct sl_blob *b, const char *key, int *fd, int64_t *size, struct sl_error *err)
{
    struct s3_blob *sb = cast(b);
    struct s3_req r;
    struct stat st;
    int rc = req_init(&r, "GET", key, "");
    if (rc)
        goto out;
    if ((r.out_fd = make_tmp(sb)) < 0) {
        rc = sl_err_set(err, sl_errno_rc(errno), "cannot make a temporary file for blob %s: %s",
                        key, strerror(errno));
        goto out;
    }
    if ((rc = exchange(sb, &r, err)) != 0)
        goto out;
    if (fstat(r.out_fd, &st) != 0 || lseek(r.out_fd, 0, SEEK_SET) != 0) {
        rc = sl_err_set(err, sl_errno_rc(errno), "cannot read back blob %s: %s", key,
                        strerror(errno));
        goto out;
    }
    if (r.content_length >= 0 && r.content_length != (curl_off_t)st.st_size) {
        rc = sl_err_set(err, SL_EBLOB, "S3 sent %lld of %lld bytes of blob %s",
                        (long long)st.st_size, (long long)r.content_length, key);
        goto out;
    }
    *fd = r.out_fd;
    *size = (int64_t)st.st_size;
    r.out_fd = -1;
out:
    if (r.out_fd >= 0)
        close(r.out_fd);
    free(r.body);
    return rc;
}

static int s3_remove(struct sl_blob *b, const char *key, struct sl_error *err)
{
    struct s3_blob *sb = cast(b);
    struct s3_req r;
    /* S3's DELETE answers 204 for a missing key too; the HEAD gives blob.h's
     * SL_ENOT_FOUND */
    int rc = req_init(&r, "HEAD", key, "");
    if (rc == 0)
        rc = exchange(sb, &r, err);
    if (rc == 0) {
        r.method = "DELETE";
        rc = exchange(sb, &r, err);
        if (rc == SL_ENOT_FOUND) /* removed by someone else since the HEAD: gone all
                                    the same */
            rc = 0;
    }
    free(r.body);
    return rc;
}

static void s3_close(struct sl_blob *b)
{
    struct s3_blob *sb = cast(b);
    free(sb->session_token);
    memset(sb->secret_key, 0, sizeof sb->secret_key);
    free(sb);
}

static const struct sl_blob_ops s3_ops = {
    .name = "s3",
    .put_file = s3_put_file,
    .open = s3_open,
    .remove = s3_remove,
    .close = s3_close,
};

/* ---------------------------------------------------------------------------------------------
 * Opening
 */

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = sl_config_getenv(name); /* the environment, then .env.local and .env */
    return v && *v ? v : fallback;
}

/* Splits AWS_ENDPOINT_URL_S3 into endpoint (scheme://authority), host and its
 * path. */
static int parse_endpoint(struct s3_blob *sb, const char *url, char *path, size_t cap,
                          struct sl_error *err)
{
    const char *auth = strstr(url, "://");
    if (!auth || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return sl_err_set(err, SL_ECONFIG,
                          "AWS_ENDPOINT_URL_S3 must be an http:// or https:// URL, not '%.64s'",
                          url);
    auth += 3;
    size_t alen = strcspn(auth, "/?#");
    size_t slen = (size_t)(auth - url) + alen;
    if (alen == 0 || alen >= sizeof sb->host || slen >= sizeof sb->endpoint)
        return sl_err_set(err, SL_ECONFIG, "AWS_ENDPOINT_URL_S3 has no usable host: '%.64s'", url);
    memcpy(sb->host, auth, alen);
    sb->host[alen] = '\0';
    memcpy(sb->endpoint, url, slen);
    sb->endpoint[slen] = '\0';
    size_t plen = strcspn(auth + alen, "?#");
    while (plen > 0 && auth[alen + plen - 1] == '/')
        plen--;
    if (plen >= cap)
        return sl_err_set(err, SL_ECONFIG, "AWS_ENDPOINT_URL_S3 path too long");
    memcpy(path, auth + alen, plen);
    path[plen] = '\0';
    return 0;
}

/* Bucket and prefix from "bucket[/prefix]" into sb->bucket and sb->root. */
static int parse_spec(struct s3_blob *sb, const char *spec, const char *ep_path,
                      struct sl_error *err)
{
    char prefix[512], enc_bucket[192], enc_prefix[768];
    size_t blen = strcspn(spec, "/");
    if (blen == 0 || blen >= sizeof sb->bucket)
        return sl_err_set(err, SL_ECONFIG,
                          "SLUICE_BLOB_URL: s3:// needs a bucket name of 1 to 63 characters "
                          "(s3://bucket[/prefix])");
    for (size_t i = 0; i < blen; i++) {
        char c = spec[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return sl_err_set(err, SL_ECONFIG, "SLUICE_BLOB_URL: bad bucket name '%.*s'", (int)blen,
                              spec);
    }
    memcpy(sb->bucket, spec, blen);
    sb->bucket[blen] = '\0';
    const char *p = spec + blen;
    while (*p == '/')
        p++;
    if (snprintf(prefix, sizeof prefix, "%s", p) >= (int)sizeof prefix)
        return sl_err_set(err, SL_ECONFIG, "SLUICE_BLOB_URL: prefix too long");
    for (size_t n = strlen(prefix); n > 0 && prefix[n - 1] == '/'; n--)
        prefix[n - 1] = '\0';
    if (sl_s3_uri_encode(sb->bucket, 0, enc_bucket, sizeof enc_bucket) != 0 ||
        sl_s3_uri_encode(prefix, 1, enc_prefix, sizeof enc_prefix) != 0 ||
        snprintf(sb->root, sizeof sb->root, "%s/%s%s%s", ep_path, enc_bucket, prefix[0] ? "/" : "",
                 enc_prefix) >= (int)sizeof sb->root)
        return sl_err_set(err, SL_ECONFIG, "SLUICE_BLOB_URL: prefix too long");
    return 0;
}

static int read_env(struct s3_blob *sb, const char *spec, struct sl_error *err)
{
    char default_ep[128], ep_path[256];
    const char *ak = env_or("AWS_ACCESS_KEY_ID", NULL), *sk = env_or("AWS_SECRET_ACCESS_KEY", NULL);
    const char *token = env_or("AWS_SESSION_TOKEN", NULL);
    int rc;

    if (!ak || !sk)
        return sl_err_set(err, SL_ECONFIG,
                          "SLUICE_BLOB_URL is s3://: set AWS_ACCESS_KEY_ID and "
                          "AWS_SECRET_ACCESS_KEY");
    if (strlen(ak) >= sizeof sb->access_key || strlen(sk) >= sizeof sb->secret_key)
        return sl_err_set(err, SL_ECONFIG, "AWS credentials too long");
    snprintf(sb->access_key, sizeof sb->access_key, "%s", ak);
    snprintf(sb->secret_key, sizeof sb->secret_key, "%s", sk);
    if (token && !(sb->session_token = strdup(token)))
        return SL_ENOMEM;
    if (snprintf(sb->region, sizeof sb->region, "%s", env_or("AWS_REGION", "us-east-1")) >=
        (int)sizeof sb->region)
        return sl_err_set(err, SL_ECONFIG, "AWS_REGION too long");
    snprintf(default_ep, sizeof default_ep, "https://s3.%s.amazonaws.com", sb->region);
    if ((rc = parse_endpoint(sb, env_or("AWS_ENDPOINT_URL_S3", default_ep), ep_path, sizeof ep_path,
                             err)) != 0)
        return rc;
    if (snprintf(sb->tmp_dir, sizeof sb->tmp_dir, "%s/tmp", env_or("SLUICE_DATA_DIR", "./data")) >=
        (int)sizeof sb->tmp_dir)
        sb->tmp_dir[0] = '\0'; /* make_tmp falls back to $TMPDIR */
    return parse_spec(sb, spec, ep_path, err);
}

int sl_blob_s3_open(const char *spec, struct sl_blob **out, struct sl_error *err)
{
    *out = NULL;
    struct s3_blob *sb = calloc(1, sizeof *sb);
    if (!sb)
        return SL_ENOMEM;
    sb->base.ops = &s3_ops;
    int rc = read_env(sb, spec, err);
    if (rc) {
        s3_close(&sb->base);
        return rc;
    }
    pthread_once(&curl_once, curl_init_once);
    *out = &sb->base;
    return 0;
}
