/*
 * sha256: incremental SHA-256 over OpenSSL's EVP interface, with hex output.
 *
 * A context is owned by its caller: sl_sha256_new, any number of updates, then sl_sha256_final
 * (which also frees it) or sl_sha256_free to abandon it. Not shared between threads.
 */
#ifndef SL_SHA256_H
#define SL_SHA256_H

#include <stddef.h>

#define SL_SHA256_HEX 65 /* 64 hex digits and NUL */

struct sl_sha256;

/* Returns 0 and a new context in *out, or SL_ENOMEM. */
int sl_sha256_new(struct sl_sha256 **out);
int sl_sha256_update(struct sl_sha256 *h, const void *data, size_t len);
/* Writes the lowercase hex digest and frees h. */
int sl_sha256_final(struct sl_sha256 *h, char hex[SL_SHA256_HEX]);
void sl_sha256_free(struct sl_sha256 *h);

/* Hashes a whole open file from its current offset. Returns 0 or SL_EIO. */
int sl_sha256_fd(int fd, char hex[SL_SHA256_HEX]);

#endif
