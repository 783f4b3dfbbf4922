/*
 * ui: the web UI's files (ui/ in the source tree), built into the binary.
 *
 * scripts/embed.sh turns every file of ui/ into a byte array of the generated
 * <build>/gen/ui_assets.c, which defines the table below; ui.c serves it at `/` (index.html)
 * and `/ui/<name>`, with the security headers of docs/ui.md. Read-only, so any thread may read.
 */
#ifndef SL_HTTP_UI_H
#define SL_HTTP_UI_H

#include <stddef.h>

struct sl_ui_asset {
    const char *name;         /* file name in ui/, e.g. "app.js" */
    const char *content_type; /* e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t size; /* bytes */
};

extern const struct sl_ui_asset sl_ui_assets[];
extern const size_t sl_ui_asset_count;

/* The asset called name, or NULL. */
const struct sl_ui_asset *sl_ui_find(const char *name);

#endif
