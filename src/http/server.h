/*
 * server: the HTTP server on libmicrohttpd: one thread per connection, the route table,
 * one log line per request (method, path, status, bytes, duration).
 *
 * sl_server_start borrows svc (it must outlive the server). sl_server_quiesce stops accepting
 * new connections; sl_server_stop closes every connection and frees the server.
 */
#ifndef SL_HTTP_SERVER_H
#define SL_HTTP_SERVER_H

#include "core/service.h"

struct sl_server;

/* Listens on host:port (port 0 picks a free one). Returns 0 and *out, or an SL_E* code. */
int sl_server_start(struct sl_service *svc, const char *host, int port, struct sl_server **out,
                    struct sl_error *err);
/* The port actually listened on. */
int sl_server_port(const struct sl_server *srv);
void sl_server_quiesce(struct sl_server *srv);
void sl_server_stop(struct sl_server *srv);

#endif
