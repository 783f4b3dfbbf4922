/*
 * client: the one HTTP call sluice makes to itself: a cron firing, done the way Vercel's cron
 * does it (GET, `Authorization: Bearer <CRON_SECRET>` when one is set, `User-Agent:
 * sluice-cron/1.0`). libcurl underneath; the response body is read and dropped.
 * Thread-safe once sl_http_client_init has run (call it before starting threads).
 */
#ifndef SL_HTTP_CLIENT_H
#define SL_HTTP_CLIENT_H

#include "util/err.h"

void sl_http_client_init(void);
void sl_http_client_cleanup(void);

/* GETs url. Returns the HTTP status (>= 100), or a negative SL_E* code with err filled. */
int sl_http_cron_get(const char *url, const char *secret, struct sl_error *err);

/* Writes "http://HOST:PORT" for reaching a server listening on host (wildcards become
 * loopback, IPv6 literals get brackets). */
void sl_http_local_base(const char *host, int port, char *out, size_t cap);

#endif
