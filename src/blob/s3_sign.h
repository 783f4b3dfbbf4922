/*
 * s3_sign: AWS Signature Version 4 for S3 requests, with OpenSSL's SHA-256 and
 * HMAC-SHA256.
 *
 * The S3 backend (blob/s3.c) signs every request with sl_s3_sign;
 * tests/unit/test_blob_s3_sign.c checks it, step by step, against the worked
 * examples in AWS's S3 SigV4 documentation. It is pure computation: no I/O, no
 * allocation, no curl, so it is safe from any thread.
 *
 * The caller gives the request already in canonical pieces: the URI-encoded
 * path, the canonical query string (names sorted, "name=value" joined by '&', a
 * bare name written "name="), and the headers to sign with lowercase names and
 * trimmed values (sl_s3_sign sorts them). Failure is SL_EINVALID when a piece
 * does not fit its buffer, with the outputs left empty.
 */
#ifndef SL_BLOB_S3_SIGN_H
#define SL_BLOB_S3_SIGN_H

#include <stddef.h>

#define SL_S3_SIGN_HEADERS_MAX 16
#define SL_S3_CANONICAL_MAX    6144
#define SL_S3_STS_MAX          512
#define SL_S3_AUTH_MAX         1024
#define SL_S3_EMPTY_SHA256     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct sl_s3_header {
    const char *name;  /* lowercase */
    const char *value; /* trimmed */
};

struct sl_s3_sign_input {
    const char *method;                 /* "GET", "PUT", ... */
    const char *uri;                    /* canonical URI: the URI-encoded path, "/" at least */
    const char *query;                  /* canonical query string; "" for none */
    const struct sl_s3_header *headers; /* the signed headers, any order, at most 16 */
    size_t n_headers;
    const char *payload_hash; /* lowercase hex SHA-256 of the body, or
                                 "UNSIGNED-PAYLOAD" */
    const char *amz_date;     /* ISO 8601 basic, UTC: "20130524T000000Z" */
    const char *region;       /* "us-east-1" */
    const char *access_key;
    const char *secret_key;
};

/* Every intermediate value, so that tests can compare each with AWS's published
 * one. */
struct sl_s3_signature {
    char canonical_request[SL_S3_CANONICAL_MAX];
    char string_to_sign[SL_S3_STS_MAX];
    char signature[65];                 /* lowercase hex */
    char authorization[SL_S3_AUTH_MAX]; /* the Authorization header's value */
};

/* Signs in and fills out. Returns 0 or SL_EINVALID (too many headers, a piece
 * too long). */
int sl_s3_sign(const struct sl_s3_sign_input *in, struct sl_s3_signature *out);

/* Lowercase hex SHA-256 of data[0..len). */
void sl_s3_sha256_hex(const void *data, size_t len, char hex[65]);

/*
 * URI-encodes s into out (cap bytes) as SigV4 wants: A-Z a-z 0-9 - . _ ~ stay,
 * '/' stays when keep_slash, every other byte becomes %XX (uppercase). Returns
 * 0 or SL_EINVALID when too long.
 */
int sl_s3_uri_encode(const char *s, int keep_slash, char *out, size_t cap);

#endif
