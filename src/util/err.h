/*
 * err: the one error convention of sluice.
 *
 * Every function that can fail returns int: 0 on success or a negative SL_E* code from the list
 * below. The list is an X-macro so that each code has exactly one name (the snake_case `code` of
 * the JSON error body), one default message and one HTTP status. Details travel in an optional
 * struct sl_error with a fixed-size message, so reporting an error never allocates.
 *
 * Thread rules: none; a struct sl_error belongs to its caller.
 */
#ifndef SL_ERR_H
#define SL_ERR_H

#include <stddef.h>

/* X(NAME, value, code, http status, default message) */
#define SL_ERRORS(X)                                                                               \
    X(OK, 0, "ok", 200, "success")                                                                 \
    X(NOMEM, -1, "out_of_memory", 500, "out of memory")                                            \
    X(INVALID, -2, "invalid_request", 400, "the request is not valid")                             \
    X(NOT_FOUND, -3, "not_found", 404, "no such resource")                                         \
    X(CONFLICT, -4, "conflict", 409, "the resource is not in a state that allows this")            \
    X(TOO_LARGE, -5, "payload_too_large", 413, "the upload is over the size limit")                \
    X(MEDIA_TYPE, -6, "unsupported_media_type", 415, "the body must be multipart/form-data")       \
    X(UNAUTHORIZED, -7, "unauthorized", 401, "missing or wrong credentials")                       \
    X(BUSY, -8, "batch_running", 409, "a batch is already running in this process")                \
    X(NO_SPACE, -9, "insufficient_storage", 507, "no space left to store the upload")              \
    X(IO, -10, "io_error", 500, "an input/output operation failed")                                \
    X(STORE, -11, "store_error", 503, "the job store failed")                                      \
    X(CONFIG, -12, "invalid_config", 500, "the configuration is not valid")                        \
    X(PROCESS, -13, "processing_failed", 500, "the processor failed")                              \
    X(FENCED, -14, "lease_lost", 409, "the job's lease was lost to another worker")                \
    X(NO_FILE, -15, "no_file", 400, "the request holds no file part")                              \
    X(METHOD, -16, "method_not_allowed", 405, "this route does not accept that method")            \
    X(BLOB, -17, "blob_error", 503, "the blob store failed")                                       \
    X(SHUTDOWN, -18, "shutting_down", 503, "the service is shutting down")                         \
    X(RATE_LIMITED, -20, "rate_limited", 429, "too many requests; retry later")                    \
    X(FORBIDDEN, -21, "forbidden", 403, "this address may not use this route")                     \
    X(INTERNAL, -19, "internal_error", 500, "an internal error occurred")

enum sl_err {
#define SL_ERR_ENUM(name, value, code, status, msg) SL_E##name = value,
    SL_ERRORS(SL_ERR_ENUM)
#undef SL_ERR_ENUM
};

#define SL_ERROR_MSG_MAX 256

struct sl_error {
    int code;                   /* an SL_E* value */
    char msg[SL_ERROR_MSG_MAX]; /* human sentence: what went wrong and what to do */
};

/* The snake_case code name of rc ("not_found"); "internal_error" for unknown values. */
const char *sl_err_code(int rc);
/* The HTTP status that matches rc. */
int sl_err_status(int rc);
/* The default message of rc. */
const char *sl_err_default_msg(int rc);

/*
 * Records rc and a printf-style message in err (when err is not NULL) and returns rc, so that
 * callers can write `return sl_err_set(err, SL_EINVALID, "...")`.
 */
int sl_err_set(struct sl_error *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err to success. */
void sl_err_clear(struct sl_error *err);

/* The message in err, or rc's default message when err holds none. */
const char *sl_err_msg(const struct sl_error *err, int rc);

#endif
