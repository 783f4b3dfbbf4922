/*
 * access: who may use which route, and how often: the API token, the cron route's address
 * allow-list and the per-address upload rate limit.
 *
 * The server (server.c) makes one struct sl_access at start-up from the configuration and calls
 * sl_access_check once the headers of a request are in, before any body is read, with the
 * route's SL_ACCESS_* flags (from the route table, routes.c). A refused request is answered
 * there and then (401 `unauthorized`, 403 `forbidden` or 429 `rate_limited` with Retry-After),
 * so a rejected upload never reaches the upload code and stores nothing.
 *
 * The pieces (constant-time compare, CIDR parsing and matching, the token bucket) are plain
 * functions so that tests can drive them directly; the bucket takes the clock as a parameter.
 * Addresses are kept as 16 IPv6 bytes: an IPv4 address is its v4-mapped form (::ffff:a.b.c.d),
 * so an IPv4 rule matches both a plain IPv4 client and a v4-mapped one on a dual-stack socket.
 *
 * Secrets (the API token, CRON_SECRET) are compared, never logged or copied into messages.
 * Thread rules: sl_access_check may run on many connection threads at once; the rate table is
 * under a mutex. Everything else is read-only after sl_access_new.
 */
#ifndef SL_HTTP_ACCESS_H
#define SL_HTTP_ACCESS_H

#include "util/config.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* What a route needs, as flags in the route table. 0: the API token is required. */
#define SL_ACCESS_OPEN        0x1 /* no token: health and the web UI */
#define SL_ACCESS_CRON        0x2 /* no token (CRON_SECRET guards it); the allow-list applies */
#define SL_ACCESS_QUERY_TOKEN 0x4 /* the token may also come as ?token= (EventSource) */
#define SL_ACCESS_RATED       0x8 /* counts against the client address's upload rate */

#define SL_RATE_SLOTS 4096 /* client addresses the rate limiter remembers */

struct sl_req;
struct sl_access;

/* 1 when given equals secret, in time that depends on the lengths only. */
int sl_secret_equal(const char *given, const char *secret);

/* One allow-list rule: a network in IPv6 form (IPv4 as v4-mapped) and its prefix length. */
struct sl_cidr {
    unsigned char net[16];
    int prefix; /* 0..128, counted in the IPv6 form (an IPv4 /8 is 104) */
};

/* Parses "a.b.c.d/n", "v6::/n" or a bare address (a host rule). Returns 0 or SL_EINVALID. */
int sl_cidr_parse(const char *text, struct sl_cidr *out);
/*
 * Parses a comma-separated list (spaces around items allowed, empty items not) into a new
 * array (*out, free() it) of *n rules. Returns 0, or SL_ECONFIG with err naming what (e.g.
 * "SLUICE_CRON_ALLOW") and the bad item; on failure *out is NULL.
 */
int sl_cidr_list_parse(const char *text, const char *what, struct sl_cidr **out, size_t *n,
                       struct sl_error *err);
/* The 16-byte form of a socket address (IPv4 mapped). Returns 0, or SL_EINVALID for others. */
int sl_addr_key(const struct sockaddr *sa, unsigned char key[16]);
/* 1 when the address (16-byte form) is inside the rule. */
int sl_cidr_match(const struct sl_cidr *rule, const unsigned char addr[16]);

/* A token bucket: starts full; refills at rate per second up to burst. */
struct sl_bucket {
    int64_t milli;   /* thousandths of a token: integer arithmetic, exact on any clock */
    int64_t last_ms; /* the clock when tokens was last brought up to date */
};
void sl_bucket_init(struct sl_bucket *b, int burst, int64_t now_ms);
/*
 * Takes one token at now_ms (any monotonic clock in ms). Returns 0 when taken, or the ms until
 * one will be there (> 0) and takes nothing. A clock that goes back refills nothing; a rate
 * of 0 or less is no limit.
 */
int64_t sl_bucket_take(struct sl_bucket *b, int rate, int burst, int64_t now_ms);

/* Makes the access state from cfg (borrowed; it must outlive it). SL_ECONFIG on a bad list. */
int sl_access_new(const struct sl_config *cfg, struct sl_access **out, struct sl_error *err);
void sl_access_free(struct sl_access *a);

/*
 * Applies the route's flags to r. Returns 0 when the request may go on; otherwise the reply
 * is made on r (401, 403 or 429) and the SL_E* code is returned.
 */
int sl_access_check(struct sl_access *a, struct sl_req *r, unsigned flags);
/* Takes one upload from addr at now_ms: 0, or the ms to wait. For tests and sl_access_check. */
int64_t sl_access_rate_take(struct sl_access *a, const unsigned char addr[16], int64_t now_ms);

#endif
