/*
 * multipart: a streaming multipart/form-data parser (RFC 7578 over RFC 2046).
 *
 * Bytes are fed as they arrive, in chunks of any size; part bodies are handed to callbacks as
 * they are found, so memory stays bounded (one working buffer) whatever the upload size.
 * Part headers are capped (SL_MULTIPART_HEADERS_MAX bytes per part), as is the part count's
 * caller-side limit through the callbacks' return values.
 *
 * Why not libmicrohttpd's post processor: it does not tell the caller where a part ends (an
 * empty file part and the start of the next one look alike) and it accepts truncated or
 * malformed bodies silently. Every upload must be all-or-nothing, so sluice needs to know.
 *
 * Errors: feed and finish return 0, SL_EINVALID with a message for malformed input, or the
 * first non-zero value a callback returned (which stops the parser). Not thread-safe; one
 * parser per request.
 */
#ifndef SL_MULTIPART_H
#define SL_MULTIPART_H

#include "util/err.h"

#include <stddef.h>

#define SL_MULTIPART_HEADERS_MAX  16384
#define SL_MULTIPART_BOUNDARY_MAX 70

struct sl_part_info {
    const char *name;         /* the form field name; never NULL */
    const char *filename;     /* NULL for a text field */
    const char *content_type; /* NULL when the part has none */
};

struct sl_multipart_cb {
    int (*part_begin)(void *ctx, const struct sl_part_info *info);
    int (*part_data)(void *ctx, const char *data, size_t len);
    int (*part_end)(void *ctx);
};

struct sl_multipart;

/*
 * Extracts the boundary from a Content-Type header value. Returns 0, SL_EMEDIA_TYPE when the
 * type is not multipart/form-data, or SL_EINVALID when the boundary is missing or malformed.
 */
int sl_multipart_boundary(const char *content_type, char out[SL_MULTIPART_BOUNDARY_MAX + 1],
                          struct sl_error *err);

int sl_multipart_new(const char *boundary, const struct sl_multipart_cb *cb, void *ctx,
                     struct sl_multipart **out);
int sl_multipart_feed(struct sl_multipart *mp, const char *data, size_t len, struct sl_error *err);
/* Call at the end of the body: SL_EINVALID unless the closing boundary was seen. */
int sl_multipart_finish(struct sl_multipart *mp, struct sl_error *err);
void sl_multipart_free(struct sl_multipart *mp);

#endif
