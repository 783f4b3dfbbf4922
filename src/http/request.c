#include "http/request.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void common_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
}

static int set_response(struct sl_req *r, int status, struct MHD_Response *resp, uint64_t bytes)
{
    if (r->response)
        MHD_destroy_response(r->response);
    r->response = resp;
    r->status = resp ? status : 500;
    r->bytes = bytes;
    if (resp)
        common_headers(resp);
    return resp ? 0 : SL_ENOMEM;
}

int sl_reply_json(struct sl_req *r, int status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!text) {
        static const char oom[] = "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of "
                                  "memory while answering\"}}";
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
        set_response(r, 500, resp, sizeof oom - 1);
        if (resp)
            MHD_add_response_header(resp, "Content-Type", "application/json");
        return SL_ENOMEM;
    }
    size_t len = strlen(text);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(text);
    int rc = set_response(r, status, resp, len);
    if (resp)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    return rc;
}

int sl_reply_error(struct sl_req *r, int rc, const struct sl_error *err)
{
    int status = sl_err_status(rc);
    int ret = sl_reply_json(r, status,
                            json_pack("{s:{s:s, s:s}}", "error", "code", sl_err_code(rc), "message",
                                      sl_err_msg(err, rc)));
    if (status == 503) /* a busy or restarting store: nothing was done, and it passes */
        sl_reply_header(r, "Retry-After", "1");
    return ret;
}

int sl_reply_errorf(struct sl_req *r, int rc, const char *fmt, ...)
{
    struct sl_error err;
    va_list ap;
    err.code = rc;
    va_start(ap, fmt);
    vsnprintf(err.msg, sizeof err.msg, fmt, ap);
    va_end(ap);
    return sl_reply_error(r, rc, &err);
}

int sl_reply_empty(struct sl_req *r, int status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    return set_response(r, status, resp, 0);
}

int sl_reply_fd(struct sl_req *r, int fd, int64_t size, const char *content_type,
                const char *disposition)
{
    struct MHD_Response *resp = MHD_create_response_from_fd64((uint64_t)size, fd);
    if (!resp) {
        close(fd);
        return sl_reply_errorf(r, SL_ENOMEM, "cannot answer with the file");
    }
    int rc = set_response(r, 200, resp, (uint64_t)size);
    MHD_add_response_header(resp, "Content-Type", content_type);
    if (disposition)
        MHD_add_response_header(resp, "Content-Disposition", disposition);
    return rc;
}

int sl_reply_static(struct sl_req *r, int status, const void *data, size_t len,
                    const char *content_type)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    int rc = set_response(r, status, resp, len);
    if (resp)
        MHD_add_response_header(resp, "Content-Type", content_type);
    return rc;
}

int sl_reply_copy(struct sl_req *r, int status, const void *data, size_t len,
                  const char *content_type)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    int rc = set_response(r, status, resp, len);
    if (resp)
        MHD_add_response_header(resp, "Content-Type", content_type);
    return rc;
}

int sl_reply_stream(struct sl_req *r, int status, const char *content_type, size_t block,
                    sl_stream_read_fn read, void (*done)(void *cls), void *cls)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, block, read, cls, done);
    if (!resp) {
        done(cls);
        return sl_reply_errorf(r, SL_ENOMEM, "cannot start the stream");
    }
    int rc = set_response(r, status, resp, 0);
    MHD_add_response_header(resp, "Content-Type", content_type);
    return rc;
}

void sl_reply_header(struct sl_req *r, const char *name, const char *value)
{
    if (r->response)
        MHD_add_response_header(r->response, name, value);
}

const char *sl_req_query(struct sl_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *sl_req_header(struct sl_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const struct sockaddr *sl_req_client_addr(struct sl_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ci ? ci->client_addr : NULL;
}

int sl_req_from_loopback(struct sl_req *r)
{
    const struct sockaddr *sa = sl_req_client_addr(r);
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

int sl_req_query_int(struct sl_req *r, const char *name, long def, long min, long max, long *out,
                     struct sl_error *err)
{
    const char *v = sl_req_query(r, name);
    *out = def;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < min || n > max)
        return sl_err_set(err, SL_EINVALID,
                          "query parameter '%s' must be an integer from %ld to %ld", name, min,
                          max);
    *out = n;
    return 0;
}
