#include "blob/s3_sign.h"
#include "util/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex_encode(const unsigned char *bytes, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 15];
    }
    hex[2 * n] = '\0';
}

void sl_s3_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    hex_encode(md, sizeof md, hex);
}

static void hmac(const void *key, size_t key_len, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out, &n);
}

int sl_s3_uri_encode(const char *s, int keep_slash, char *out, size_t cap)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash);
        if (o + (plain ? 1 : 3) >= cap) {
            if (cap)
                out[0] = '\0';
            return SL_EINVALID;
        }
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = digits[c >> 4];
            out[o++] = digits[c & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct sl_s3_header *)a)->name, ((const struct sl_s3_header *)b)->name);
}

/* Appends printf output at *len in buf (cap); returns -1 once it no longer
 * fits. */
static int append(char *buf, size_t cap, size_t *len, const char *fmt, const char *a, const char *b)
{
    int n = snprintf(buf + *len, cap - *len, fmt, a, b);
    if (n < 0 || (size_t)n >= cap - *len)
        return -1;
    *len += (size_t)n;
    return 0;
}

/* Canonical request and the SignedHeaders list (names joined by ';'). */
static int canonical(const struct sl_s3_sign_input *in, char *creq, char *signed_names,
                     size_t names_cap)
{
    struct sl_s3_header hs[SL_S3_SIGN_HEADERS_MAX];
    size_t len = 0, nlen = 0;

    memcpy(hs, in->headers, in->n_headers * sizeof hs[0]);
    qsort(hs, in->n_headers, sizeof hs[0], by_name);
    signed_names[0] = '\0';
    if (append(creq, SL_S3_CANONICAL_MAX, &len, "%s\n%s\n", in->method, in->uri) ||
        append(creq, SL_S3_CANONICAL_MAX, &len, "%s\n%s", in->query, ""))
        return -1;
    for (size_t i = 0; i < in->n_headers; i++) {
        if (append(creq, SL_S3_CANONICAL_MAX, &len, "%s:%s\n", hs[i].name, hs[i].value) ||
            append(signed_names, names_cap, &nlen, i ? ";%s%s" : "%s%s", hs[i].name, ""))
            return -1;
    }
    return append(creq, SL_S3_CANONICAL_MAX, &len, "\n%s\n%s", signed_names, "") ||
           append(creq, SL_S3_CANONICAL_MAX, &len, "%s%s", in->payload_hash, "");
}

int sl_s3_sign(const struct sl_s3_sign_input *in, struct sl_s3_signature *out)
{
    char names[512], scope[128], creq_hash[65], date[9], secret[256];
    unsigned char k[32];
    int rc = SL_EINVALID;

    memset(out, 0, sizeof *out);
    if (in->n_headers > SL_S3_SIGN_HEADERS_MAX || strlen(in->amz_date) != 16)
        goto out;
    if (canonical(in, out->canonical_request, names, sizeof names) != 0)
        goto out;
    memcpy(date, in->amz_date, 8);
    date[8] = '\0';
    if (snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", date, in->region) >=
            (int)sizeof scope ||
        snprintf(secret, sizeof secret, "AWS4%s", in->secret_key) >= (int)sizeof secret)
        goto out;
    sl_s3_sha256_hex(out->canonical_request, strlen(out->canonical_request), creq_hash);
    if (snprintf(out->string_to_sign, sizeof out->string_to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s",
                 in->amz_date, scope, creq_hash) >= (int)sizeof out->string_to_sign)
        goto out;
    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), "s3"),
     * "aws4_request") */
    hmac(secret, strlen(secret), date, k);
    hmac(k, sizeof k, in->region, k);
    hmac(k, sizeof k, "s3", k);
    hmac(k, sizeof k, "aws4_request", k);
    hmac(k, sizeof k, out->string_to_sign, k);
    hex_encode(k, sizeof k, out->signature);
    if (snprintf(out->authorization, sizeof out->authorization,
                 "AWS4-HMAC-SHA256 Credential=%s/%s,SignedHeaders=%s,Signature=%s", in->access_key,
                 scope, names, out->signature) >= (int)sizeof out->authorization)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(k, sizeof k);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}
