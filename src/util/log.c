#include "util/log.h"
#include "util/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static enum sl_log_level min_level = SL_LOG_INFO;

void sl_log_set_level(enum sl_log_level level)
{
    min_level = level;
}

void sl_log(enum sl_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    char when[SL_ISO_MAX];
    va_list ap;

    if (level < min_level)
        return;
    sl_iso8601(sl_now_ms(), when);
    int n = snprintf(line, sizeof line, "%s %s ", when, names[level]);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* nowhere to report a failed log write */
}
