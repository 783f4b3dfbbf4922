#include "http/access.h"
#include "http/request.h"
#include "util/timeutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RATE_PROBE 8 /* slots looked at per address: the stalest of them is replaced */

struct rate_slot {
    unsigned char key[16];
    int used;
    struct sl_bucket bucket;
};

struct sl_access {
    const struct sl_config *cfg;
    struct sl_cidr *allow; /* SLUICE_CRON_ALLOW; NULL when unset */
    size_t allow_n;
    pthread_mutex_t lock;    /* guards slots */
    struct rate_slot *slots; /* SL_RATE_SLOTS of them; NULL when rate limiting is off */
};

/* ---- constant-time compare ---------------------------------------------------------------- */

int sl_secret_equal(const char *given, const char *secret)
{
    size_t a = strlen(given), b = strlen(secret);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(secret[i] ^ (i < a ? given[i] : 0));
    return diff == 0;
}

/* ---- CIDR --------------------------------------------------------------------------------- */

int sl_addr_key(const struct sockaddr *sa, unsigned char key[16])
{
    if (!sa)
        return SL_EINVALID;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memset(key, 0, 10);
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &in->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 0;
    }
    return SL_EINVALID;
}

/* Parses a decimal prefix length of 1 to 3 digits, at most max. */
static int parse_prefix(const char *s, int max, int *out)
{
    int n = 0;
    size_t len = strlen(s);
    if (len == 0 || len > 3)
        return SL_EINVALID;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SL_EINVALID;
        n = n * 10 + (s[i] - '0');
    }
    if (n > max)
        return SL_EINVALID;
    *out = n;
    return 0;
}

/* Clears the bits past the prefix, so "10.1.2.3/8" means 10.0.0.0/8. */
static void mask_net(struct sl_cidr *c)
{
    for (int bit = c->prefix; bit < 128; bit++)
        c->net[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
}

int sl_cidr_parse(const char *text, struct sl_cidr *out)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    struct in_addr v4;
    int prefix;

    if (alen == 0 || alen >= sizeof addr)
        return SL_EINVALID;
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, addr, &v4) == 1) {
        if (slash && parse_prefix(slash + 1, 32, &prefix) != 0)
            return SL_EINVALID;
        out->net[10] = out->net[11] = 0xff;
        memcpy(out->net + 12, &v4, 4);
        out->prefix = 96 + (slash ? prefix : 32);
    } else if (inet_pton(AF_INET6, addr, out->net) == 1) {
        if (slash && parse_prefix(slash + 1, 128, &prefix) != 0)
            return SL_EINVALID;
        out->prefix = slash ? prefix : 128;
    } else {
        return SL_EINVALID;
    }
    mask_net(out);
    return 0;
}

int sl_cidr_match(const struct sl_cidr *rule, const unsigned char addr[16])
{
    int full = rule->prefix / 8, rest = rule->prefix % 8;
    if (memcmp(rule->net, addr, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff00u >> rest);
    return (addr[full] & mask) == rule->net[full];
}

/* Copies item (len bytes) without the spaces around it. */
static void trim_item(const char *item, size_t len, char *out, size_t cap)
{
    while (len > 0 && *item == ' ')
        item++, len--;
    while (len > 0 && item[len - 1] == ' ')
        len--;
    if (len >= cap)
        len = cap - 1;
    memcpy(out, item, len);
    out[len] = '\0';
}

int sl_cidr_list_parse(const char *text, const char *what, struct sl_cidr **out, size_t *n,
                       struct sl_error *err)
{
    size_t cap = 1, count = 0;
    int rc = 0;
    *out = NULL;
    *n = 0;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    struct sl_cidr *list = calloc(cap, sizeof *list);
    if (!list)
        return SL_ENOMEM;
    for (const char *p = text;;) {
        size_t len = strcspn(p, ",");
        char item[80];
        trim_item(p, len, item, sizeof item);
        if (len >= sizeof item || sl_cidr_parse(item, &list[count]) != 0) {
            rc =
                sl_err_set(err, SL_ECONFIG,
                           "%s: '%.64s' is not an address or CIDR block (e.g. 10.0.0.0/8, ::1/128)",
                           what, item);
            goto out;
        }
        count++;
        if (!p[len])
            break;
        p += len + 1;
    }
out:
    if (rc) {
        free(list);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

/* ---- token bucket ------------------------------------------------------------------------- */

void sl_bucket_init(struct sl_bucket *b, int burst, int64_t now_ms)
{
    b->milli = (int64_t)burst * 1000;
    b->last_ms = now_ms;
}

int64_t sl_bucket_take(struct sl_bucket *b, int rate, int burst, int64_t now_ms)
{
    if (rate <= 0)
        return 0; /* no limit */
    /* rate tokens per second are rate thousandths of a token per ms. */
    if (now_ms > b->last_ms) {
        b->milli += (now_ms - b->last_ms) * rate;
        if (b->milli > (int64_t)burst * 1000)
            b->milli = (int64_t)burst * 1000;
        b->last_ms = now_ms;
    }
    if (b->milli >= 1000) {
        b->milli -= 1000;
        return 0;
    }
    return (1000 - b->milli + rate - 1) / rate;
}

/* ---- the access state ---------------------------------------------------------------------- */

int sl_access_new(const struct sl_config *cfg, struct sl_access **out, struct sl_error *err)
{
    int rc = 0;
    *out = NULL;
    struct sl_access *a = calloc(1, sizeof *a);
    if (!a)
        return SL_ENOMEM;
    a->cfg = cfg;
    pthread_mutex_init(&a->lock, NULL);
    if (cfg->cron_allow && (rc = sl_cidr_list_parse(cfg->cron_allow, "SLUICE_CRON_ALLOW", &a->allow,
                                                    &a->allow_n, err)) != 0)
        goto out;
    if (cfg->upload_rate > 0 && !(a->slots = calloc(SL_RATE_SLOTS, sizeof *a->slots)))
        rc = SL_ENOMEM;
out:
    if (rc) {
        sl_access_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void sl_access_free(struct sl_access *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->lock);
    free(a->allow);
    free(a->slots);
    free(a);
}

static uint32_t addr_hash(const unsigned char key[16])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 16777619u;
    return h;
}

/* The slot of key: its own, else an empty one, else the stalest of its probe window. */
static struct rate_slot *rate_slot(struct sl_access *a, const unsigned char key[16], int64_t now_ms)
{
    uint32_t h = addr_hash(key);
    struct rate_slot *victim = NULL;
    for (int i = 0; i < RATE_PROBE; i++) {
        struct rate_slot *s = &a->slots[(h + (uint32_t)i) % SL_RATE_SLOTS];
        if (s->used && memcmp(s->key, key, 16) == 0)
            return s;
        if (!victim || (victim->used && (!s->used || s->bucket.last_ms < victim->bucket.last_ms)))
            victim = s;
    }
    memcpy(victim->key, key, 16);
    victim->used = 1;
    sl_bucket_init(&victim->bucket, a->cfg->upload_burst, now_ms);
    return victim;
}

int64_t sl_access_rate_take(struct sl_access *a, const unsigned char addr[16], int64_t now_ms)
{
    if (!a->slots)
        return 0;
    pthread_mutex_lock(&a->lock);
    struct rate_slot *s = rate_slot(a, addr, now_ms);
    int64_t wait = sl_bucket_take(&s->bucket, a->cfg->upload_rate, a->cfg->upload_burst, now_ms);
    pthread_mutex_unlock(&a->lock);
    return wait;
}

/* ---- per request --------------------------------------------------------------------------- */

static int token_ok(struct sl_access *a, struct sl_req *r, unsigned flags)
{
    const char *auth = sl_req_header(r, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0 &&
        sl_secret_equal(auth + 7, a->cfg->api_token))
        return 1;
    const char *q = (flags & SL_ACCESS_QUERY_TOKEN) ? sl_req_query(r, "token") : NULL;
    return q && sl_secret_equal(q, a->cfg->api_token);
}

static int allowed_cron(struct sl_access *a, const unsigned char key[16])
{
    for (size_t i = 0; i < a->allow_n; i++)
        if (sl_cidr_match(&a->allow[i], key))
            return 1;
    return 0;
}

int sl_access_check(struct sl_access *a, struct sl_req *r, unsigned flags)
{
    unsigned char key[16];
    int have_key = sl_addr_key(sl_req_client_addr(r), key) == 0;

    if ((flags & SL_ACCESS_CRON) && a->allow && (!have_key || !allowed_cron(a, key)))
        return sl_reply_errorf(r, SL_EFORBIDDEN,
                               "this address may not run batches (see SLUICE_CRON_ALLOW)"),
               SL_EFORBIDDEN;
    if (!(flags & (SL_ACCESS_OPEN | SL_ACCESS_CRON)) && a->cfg->api_token && !token_ok(a, r, flags))
        return sl_reply_errorf(r, SL_EUNAUTHORIZED,
                               "send the API token: 'Authorization: Bearer <SLUICE_API_TOKEN>'"),
               SL_EUNAUTHORIZED;
    if ((flags & SL_ACCESS_RATED) && have_key) {
        int64_t wait_ms = sl_access_rate_take(a, key, sl_mono_us() / 1000);
        if (wait_ms > 0) {
            char after[32];
            int64_t secs = (wait_ms + 999) / 1000;
            snprintf(after, sizeof after, "%lld", (long long)secs);
            sl_reply_errorf(r, SL_ERATE_LIMITED,
                            "too many uploads from this address; retry in %lld s", (long long)secs);
            sl_reply_header(r, "Retry-After", after);
            return SL_ERATE_LIMITED;
        }
    }
    return 0;
}
