/* error.c — thread-local last-error message (see drift/error.h). */
#include "drift/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[1024];

const char *drift_last_error(void) { return last_message; }

void drift_clear_error(void) { last_message[0] = '\0'; }

const char *drift_status_name(int status)
{
    switch (status) {
    case DRIFT_OK: return "OK";
    case DRIFT_EINVAL: return "EINVAL";
    case DRIFT_EIO: return "EIO";
    case DRIFT_ENOMEM: return "ENOMEM";
    case DRIFT_EFORMAT: return "EFORMAT";
    case DRIFT_ENUMERIC: return "ENUMERIC";
    case DRIFT_ESHAPE: return "ESHAPE";
    case DRIFT_EUNSUPPORTED: return "EUNSUPPORTED";
    default: return "EUNKNOWN";
    }
}

int drift_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return code;
}

int drift_error_context(int code, const char *fmt, ...)
{
    char prefix[512], old[sizeof last_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_message, sizeof old);
    snprintf(last_message, sizeof last_message, "%s: %s", prefix, old);
    return code;
}
