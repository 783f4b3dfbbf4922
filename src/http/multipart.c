/*
 * The parser keeps one working buffer. The stream is treated as if it began with CRLF, so every
 * boundary, the first included, is the same delimiter "\r\n--<boundary>". In a body, all but the
 * last (delimiter length - 1) buffered bytes can be handed out at once: no delimiter can start
 * before them without having been found.
 */
#include "http/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WORK_SIZE    (64 * 1024)
#define PREAMBLE_MAX (64 * 1024) /* bytes before the first boundary line; clients send none */

enum state { ST_PREAMBLE, ST_AFTER_DELIM, ST_HEADERS, ST_BODY, ST_END, ST_FAILED };

struct sl_multipart {
    const struct sl_multipart_cb *cb;
    void *ctx;
    enum state state;
    char delim[SL_MULTIPART_BOUNDARY_MAX + 5]; /* "\r\n--" + boundary */
    size_t delim_len;
    char *buf; /* WORK_SIZE bytes */
    size_t len;
    size_t preamble; /* bytes skipped before the first delimiter */
    int rc;          /* sticky error */
};

int sl_multipart_boundary(const char *ct, char out[SL_MULTIPART_BOUNDARY_MAX + 1],
                          struct sl_error *err)
{
    out[0] = '\0';
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0 ||
        (ct[19] != '\0' && ct[19] != ';' && ct[19] != ' '))
        return sl_err_set(err, SL_EMEDIA_TYPE,
                          "the body must be multipart/form-data with one part per file");
    const char *p = ct + 19;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "boundary=", 9) != 0)
            continue;
        p += 9;
        size_t n = 0;
        if (*p == '"') {
            const char *q = strchr(++p, '"');
            if (!q)
                break;
            n = (size_t)(q - p);
        } else {
            n = strcspn(p, "; \t");
        }
        if (n == 0 || n > SL_MULTIPART_BOUNDARY_MAX)
            break;
        memcpy(out, p, n);
        out[n] = '\0';
        return 0;
    }
    return sl_err_set(err, SL_EINVALID,
                      "the multipart Content-Type has no valid boundary parameter (1 to 70 "
                      "characters)");
}

int sl_multipart_new(const char *boundary, const struct sl_multipart_cb *cb, void *ctx,
                     struct sl_multipart **out)
{
    size_t blen = strlen(boundary);
    *out = NULL;
    if (blen == 0 || blen > SL_MULTIPART_BOUNDARY_MAX)
        return SL_EINVALID;
    struct sl_multipart *mp = calloc(1, sizeof *mp);
    if (!mp)
        return SL_ENOMEM;
    mp->buf = malloc(WORK_SIZE);
    if (!mp->buf) {
        free(mp);
        return SL_ENOMEM;
    }
    mp->cb = cb;
    mp->ctx = ctx;
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, boundary, blen);
    mp->delim_len = blen + 4;
    memcpy(mp->buf, "\r\n", 2); /* the virtual CRLF before the first boundary */
    mp->len = 2;
    *out = mp;
    return 0;
}

void sl_multipart_free(struct sl_multipart *mp)
{
    if (mp) {
        free(mp->buf);
        free(mp);
    }
}

static void consume(struct sl_multipart *mp, size_t n)
{
    memmove(mp->buf, mp->buf + n, mp->len - n);
    mp->len -= n;
}

static int fail(struct sl_multipart *mp, struct sl_error *err, const char *msg)
{
    mp->state = ST_FAILED;
    mp->rc = sl_err_set(err, SL_EINVALID, "malformed multipart body: %s", msg);
    return mp->rc;
}

/* The body does not use the boundary its Content-Type announces (or has none at all). */
static int fail_no_boundary(struct sl_multipart *mp, struct sl_error *err, const char *where)
{
    mp->state = ST_FAILED;
    mp->rc = sl_err_set(err, SL_EINVALID,
                        "malformed multipart body: no boundary line '--%.70s' %s; the boundary "
                        "of the Content-Type header must be the one the body uses",
                        mp->delim + 4, where);
    return mp->rc;
}

/* Reads a parameter value (quoted-string or token) at p into out; returns the end. */
static const char *param_value(const char *p, char *out, size_t cap)
{
    size_t o = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            /* Only \" and \\ are escapes: browsers send Windows paths' backslashes raw. */
            if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                p++;
            if (o + 1 < cap)
                out[o++] = *p;
        }
        if (*p == '"')
            p++;
    } else {
        for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++)
            if (o + 1 < cap)
                out[o++] = *p;
    }
    out[o] = '\0';
    return p;
}

struct part_headers {
    char name[1024];
    char filename[4096];
    char content_type[256];
    int has_disposition, has_name, has_filename;
};

static void parse_disposition(const char *v, struct part_headers *h)
{
    h->has_disposition = strncasecmp(v, "form-data", 9) == 0;
    for (const char *p = strchr(v, ';'); p; p = strchr(p, ';')) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "name=", 5) == 0) {
            p = param_value(p + 5, h->name, sizeof h->name);
            h->has_name = 1;
        } else if (strncasecmp(p, "filename=", 9) == 0) {
            p = param_value(p + 9, h->filename, sizeof h->filename);
            h->has_filename = 1;
        }
    }
}

/* Parses the header block text (NUL-terminated, CRLF-separated lines) of one part. */
static int parse_headers(struct sl_multipart *mp, char *text, struct part_headers *h,
                         struct sl_error *err)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon)
            return fail(mp, err, "a part header line has no ':'");
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (strcasecmp(line, "Content-Disposition") == 0)
            parse_disposition(v, h);
        else if (strcasecmp(line, "Content-Type") == 0)
            snprintf(h->content_type, sizeof h->content_type, "%s", v);
    }
    if (!h->has_disposition)
        return fail(mp, err, "a part has no 'Content-Disposition: form-data' header");
    if (!h->has_name)
        return fail(mp, err, "a part has no name");
    return 0;
}

/* Headers state: waits for the blank line, then starts the part. Returns 1 to go on. */
static int step_headers(struct sl_multipart *mp, struct sl_error *err)
{
    size_t end;
    if (mp->len >= 2 && memcmp(mp->buf, "\r\n", 2) == 0) {
        end = 0; /* no header at all */
    } else {
        char *hit = memmem(mp->buf, mp->len, "\r\n\r\n", 4);
        if (!hit) {
            if (mp->len > SL_MULTIPART_HEADERS_MAX)
                return fail(mp, err, "part headers are larger than 16 KiB");
            return 0;
        }
        end = (size_t)(hit - mp->buf) + 2;
    }
    if (end > SL_MULTIPART_HEADERS_MAX)
        return fail(mp, err, "part headers are larger than 16 KiB");
    if (memchr(mp->buf, '\0', end))
        return fail(mp, err, "a part header holds a NUL byte");
    struct part_headers *h = calloc(1, sizeof *h);
    char *text = malloc(end + 1);
    int rc = (!h || !text) ? SL_ENOMEM : 0;
    if (rc == 0) {
        memcpy(text, mp->buf, end);
        text[end] = '\0';
        rc = parse_headers(mp, text, h, err);
    }
    if (rc == 0) {
        struct sl_part_info info = {h->name, h->has_filename ? h->filename : NULL,
                                    h->content_type[0] ? h->content_type : NULL};
        rc = mp->cb->part_begin(mp->ctx, &info);
    }
    free(text);
    free(h);
    if (rc) {
        mp->state = ST_FAILED;
        return mp->rc = rc;
    }
    consume(mp, end + 2);
    mp->state = ST_BODY;
    return 1;
}

/*
 * What follows a delimiter found in a body: 1 when it really ends the part ("--", or optional
 * blanks then CRLF), 0 when it is only data that looks like one, -1 when more bytes are needed.
 */
static int delimiter_ends_part(const char *p, size_t avail)
{
    size_t i = 0;
    while (i < avail && i < 64 && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i == 64)
        return 0;
    if (avail - i < 2)
        return (avail - i == 0 || p[i] == '-' || p[i] == '\r') ? -1 : 0;
    if (i == 0 && p[0] == '-' && p[1] == '-')
        return 1;
    return p[i] == '\r' && p[i + 1] == '\n';
}

/* Finds the next delimiter that really ends the part; *wait set when more bytes are needed. */
static char *find_end(struct sl_multipart *mp, int *wait)
{
    size_t from = 0;
    *wait = 0;
    for (;;) {
        char *hit = memmem(mp->buf + from, mp->len - from, mp->delim, mp->delim_len);
        if (!hit)
            return NULL;
        char *after = hit + mp->delim_len;
        int verdict = delimiter_ends_part(after, (size_t)(mp->buf + mp->len - after));
        if (verdict != 0) {
            *wait = verdict < 0;
            return hit;
        }
        from = (size_t)(hit - mp->buf) + 1; /* look-alike bytes are data */
    }
}

/* Body state: hands out data up to the next delimiter. Returns 1 to go on. */
static int step_body(struct sl_multipart *mp)
{
    int wait;
    char *hit = find_end(mp, &wait);
    size_t out = hit ? (size_t)(hit - mp->buf)
                     : (mp->len >= mp->delim_len ? mp->len - (mp->delim_len - 1) : 0);
    int rc = 0, ended = hit && !wait;
    if (out > 0)
        rc = mp->cb->part_data(mp->ctx, mp->buf, out);
    if (rc == 0 && ended)
        rc = mp->cb->part_end(mp->ctx);
    if (rc) {
        mp->state = ST_FAILED;
        return mp->rc = rc;
    }
    consume(mp, ended ? out + mp->delim_len : out);
    if (!ended)
        return 0;
    mp->state = ST_AFTER_DELIM;
    return 1;
}

/* After a delimiter: "--" closes the body, optional blanks then CRLF open a part. */
static int step_after_delim(struct sl_multipart *mp, struct sl_error *err)
{
    size_t i = 0;
    if (mp->len >= 2 && memcmp(mp->buf, "--", 2) == 0) {
        mp->state = ST_END;
        mp->len = 0;
        return 0;
    }
    while (i < mp->len && (mp->buf[i] == ' ' || mp->buf[i] == '\t'))
        i++;
    if (i + 2 > mp->len) {
        if (mp->len > 256)
            return fail(mp, err, "boundary line is not followed by CRLF");
        return 0;
    }
    if (memcmp(mp->buf + i, "\r\n", 2) != 0)
        return fail(mp, err, "boundary line is not followed by CRLF");
    consume(mp, i + 2);
    mp->state = ST_HEADERS;
    return 1;
}

/* Preamble: everything before the first delimiter is ignored, up to PREAMBLE_MAX bytes. */
static int step_preamble(struct sl_multipart *mp, struct sl_error *err)
{
    char *hit = memmem(mp->buf, mp->len, mp->delim, mp->delim_len);
    if (!hit) {
        if (mp->len >= mp->delim_len) {
            size_t skip = mp->len - (mp->delim_len - 1);
            mp->preamble += skip;
            consume(mp, skip);
        }
        if (mp->preamble > PREAMBLE_MAX)
            return fail_no_boundary(mp, err, "in the first 64 KiB");
        return 0;
    }
    consume(mp, (size_t)(hit - mp->buf) + mp->delim_len);
    mp->state = ST_AFTER_DELIM;
    return 1;
}

static int run(struct sl_multipart *mp, struct sl_error *err)
{
    int go = 1;
    while (go > 0) {
        switch (mp->state) {
        case ST_PREAMBLE:
            go = step_preamble(mp, err);
            break;
        case ST_AFTER_DELIM:
            go = step_after_delim(mp, err);
            break;
        case ST_HEADERS:
            go = step_headers(mp, err);
            break;
        case ST_BODY:
            go = step_body(mp);
            break;
        case ST_END:
            mp->len = 0; /* the epilogue is ignored */
            return 0;
        case ST_FAILED:
            return mp->rc;
        }
    }
    return go < 0 ? go : 0;
}

int sl_multipart_feed(struct sl_multipart *mp, const char *data, size_t len, struct sl_error *err)
{
    while (len > 0) {
        if (mp->state == ST_FAILED)
            return mp->rc;
        if (mp->state == ST_END)
            return 0;
        size_t room = WORK_SIZE - mp->len;
        if (room == 0)
            return fail(mp, err, "a line or header is too long");
        size_t n = len < room ? len : room;
        memcpy(mp->buf + mp->len, data, n);
        mp->len += n;
        data += n;
        len -= n;
        int rc = run(mp, err);
        if (rc)
            return rc;
    }
    return 0;
}

int sl_multipart_finish(struct sl_multipart *mp, struct sl_error *err)
{
    if (mp->state == ST_FAILED)
        return mp->rc;
    if (mp->state == ST_PREAMBLE)
        return fail_no_boundary(mp, err, "in the body");
    if (mp->state != ST_END)
        return fail(mp, err, "the body ends before the closing boundary");
    return 0;
}
