/*
 * request: one HTTP request as the route handlers see it, and the helpers they answer with.
 *
 * The server (server.c) creates a struct sl_req per request, matches its route, feeds the body
 * to the route's body handler (uploads only) and calls the route's handler once the body is
 * complete. A handler answers with exactly one sl_reply_* call. Replies copy or take what they
 * are given (see each); the request owns the response until the server queues it.
 * Thread rules: a request is handled on its connection's thread only.
 */
#ifndef SL_HTTP_REQUEST_H
#define SL_HTTP_REQUEST_H

#include "core/service.h"
#include "util/err.h"

#include <jansson.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define SL_ROUTE_PARAMS_MAX 2
#define SL_ROUTE_PARAM_MAX  520 /* bytes of one {placeholder} value, record keys included */

struct MHD_Connection;
struct MHD_Response;
struct sl_route;

struct sl_req {
    struct MHD_Connection *conn;
    struct sl_service *svc;
    const char *method; /* borrowed from the server */
    char path[2048];
    const struct sl_route *route;
    char params[SL_ROUTE_PARAMS_MAX][SL_ROUTE_PARAM_MAX]; /* {placeholders}, in order */
    int64_t t0_us;
    int status;     /* answered status, 0 until a reply */
    uint64_t bytes; /* response body bytes */
    struct MHD_Response *response;
    void *body_state; /* the body handler's, released by body_free */
    void (*body_free)(void *state);
};

/* Answers status with json (the reference is stolen); NULL json answers 500. */
int sl_reply_json(struct sl_req *r, int status, json_t *json);
/* Answers the contract's error body for rc, with err's message when it has one. */
int sl_reply_error(struct sl_req *r, int rc, const struct sl_error *err);
/* Answers with an error code and message of the caller's choosing. */
int sl_reply_errorf(struct sl_req *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answers 204 with no body. */
int sl_reply_empty(struct sl_req *r, int status);
/* Answers 200 with size bytes read from fd (taken: closed by the server when sent). */
int sl_reply_fd(struct sl_req *r, int fd, int64_t size, const char *content_type,
                const char *disposition);
/* Answers status with a copy of len bytes of data. */
int sl_reply_copy(struct sl_req *r, int status, const void *data, size_t len,
                  const char *content_type);
/* Answers status with len bytes of static data (borrowed: it must outlive the server). */
int sl_reply_static(struct sl_req *r, int status, const void *data, size_t len,
                    const char *content_type);

/*
 * A streamed body of unknown length (chunked): the server calls read for more bytes as the
 * connection drains, on the connection's thread; read fills at most max bytes of buf and returns
 * how many, or -1 at the end of the stream (-2 on an error). done(cls) runs once the response is
 * released. Takes cls: done(cls) runs even when the reply cannot be made.
 */
typedef ssize_t (*sl_stream_read_fn)(void *cls, uint64_t pos, char *buf, size_t max);
int sl_reply_stream(struct sl_req *r, int status, const char *content_type, size_t block,
                    sl_stream_read_fn read, void (*done)(void *cls), void *cls);

/* Adds a header to the reply made by the last sl_reply_* call. */
void sl_reply_header(struct sl_req *r, const char *name, const char *value);

/* A query argument, or NULL. Borrowed from the server. */
const char *sl_req_query(struct sl_req *r, const char *name);
/* A request header, or NULL. Borrowed from the server. */
const char *sl_req_header(struct sl_req *r, const char *name);
/* The client's address (borrowed from the server), or NULL when unknown. */
const struct sockaddr *sl_req_client_addr(struct sl_req *r);
/* 1 when the client connected from a loopback address. */
int sl_req_from_loopback(struct sl_req *r);

/*
 * Parses the query argument name as an integer in [min, max]; absent gives def. Returns 0, or
 * SL_EINVALID with a message naming the argument.
 */
int sl_req_query_int(struct sl_req *r, const char *name, long def, long min, long max, long *out,
                     struct sl_error *err);

#endif
