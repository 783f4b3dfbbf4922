#include "util/sha256.h"
#include "util/err.h"

#include <errno.h>
#include <openssl/evp.h>
#include <unistd.h>

struct sl_sha256 {
    EVP_MD_CTX *md;
};

int sl_sha256_new(struct sl_sha256 **out)
{
    *out = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return SL_ENOMEM;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return SL_EINTERNAL;
    }
    *out = (struct sl_sha256 *)md; /* the EVP context is the whole state */
    return 0;
}

int sl_sha256_update(struct sl_sha256 *h, const void *data, size_t len)
{
    return EVP_DigestUpdate((EVP_MD_CTX *)h, data, len) == 1 ? 0 : SL_EINTERNAL;
}

int sl_sha256_final(struct sl_sha256 *h, char hex[SL_SHA256_HEX])
{
    unsigned char digest[32];
    unsigned int n = 0;
    int ok = EVP_DigestFinal_ex((EVP_MD_CTX *)h, digest, &n) == 1 && n == 32;
    EVP_MD_CTX_free((EVP_MD_CTX *)h);
    if (!ok)
        return SL_EINTERNAL;
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}

void sl_sha256_free(struct sl_sha256 *h)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

int sl_sha256_fd(int fd, char hex[SL_SHA256_HEX])
{
    struct sl_sha256 *h;
    char buf[65536];
    int rc = sl_sha256_new(&h);
    if (rc)
        return rc;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sl_sha256_free(h);
            return SL_EIO;
        }
        if (n == 0)
            break;
        sl_sha256_update(h, buf, (size_t)n);
    }
    return sl_sha256_final(h, hex);
}
