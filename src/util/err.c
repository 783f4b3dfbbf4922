#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct err_info {
    int value;
    const char *code;
    int status;
    const char *msg;
};

static const struct err_info infos[] = {
#define SL_ERR_INFO(name, value, code, status, msg) {value, code, status, msg},
    SL_ERRORS(SL_ERR_INFO)
#undef SL_ERR_INFO
};

static const struct err_info *find(int rc)
{
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++)
        if (infos[i].value == rc)
            return &infos[i];
    return &infos[sizeof infos / sizeof infos[0] - 1]; /* INTERNAL is last */
}

const char *sl_err_code(int rc)
{
    return find(rc)->code;
}

int sl_err_status(int rc)
{
    return find(rc)->status;
}

const char *sl_err_default_msg(int rc)
{
    return find(rc)->msg;
}

int sl_err_set(struct sl_error *err, int rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = rc;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void sl_err_clear(struct sl_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *sl_err_msg(const struct sl_error *err, int rc)
{
    if (err && err->msg[0])
        return err->msg;
    return sl_err_default_msg(rc);
}
