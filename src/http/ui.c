/*
 * The web UI's routes: `GET /` answers ui/index.html and `GET /ui/{file}` the other files of
 * ui/, all from the arrays built into the binary (see ui.h), so the page works with no network
 * and no files beside the binary. Every answer carries a Content-Security-Policy that allows
 * only this origin's scripts, styles and connections (the page has no inline script or style),
 * and forbids framing; the page itself holds no secret.
 */
#include "http/routes.h"
#include "http/ui.h"

#include <string.h>

#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                    \
    "form-action 'self'; frame-ancestors 'none'"

const struct sl_ui_asset *sl_ui_find(const char *name)
{
    for (size_t i = 0; i < sl_ui_asset_count; i++)
        if (strcmp(sl_ui_assets[i].name, name) == 0)
            return &sl_ui_assets[i];
    return NULL;
}

static int reply_asset(struct sl_req *r, const struct sl_ui_asset *a)
{
    int rc = sl_reply_static(r, 200, a->data, a->size, a->content_type);
    if (rc)
        return rc;
    sl_reply_header(r, "Content-Security-Policy", CSP);
    sl_reply_header(r, "X-Frame-Options", "DENY");
    sl_reply_header(r, "Referrer-Policy", "no-referrer");
    return 0;
}

int sl_ui_index(struct sl_req *r)
{
    const struct sl_ui_asset *a = sl_ui_find("index.html");
    if (!a)
        return sl_reply_errorf(r, SL_ENOT_FOUND, "this build has no web UI");
    return reply_asset(r, a);
}

int sl_ui_asset(struct sl_req *r)
{
    const struct sl_ui_asset *a = sl_ui_find(r->params[0]);
    if (!a || strcmp(a->name, "index.html") == 0)
        return sl_reply_errorf(r, SL_ENOT_FOUND, "no UI file '%.100s'", r->params[0]);
    return reply_asset(r, a);
}
