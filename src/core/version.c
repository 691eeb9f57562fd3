/* version.c — the version of the library that is linked (see drift/version.h). */
#include "drift/version.h"

#define DRIFT_STR_(x) #x
#define DRIFT_STR(x) DRIFT_STR_(x)

int drift_version(void) { return DRIFT_VERSION; }

const char *drift_version_string(void)
{
    return DRIFT_STR(DRIFT_VERSION_MAJOR) "." DRIFT_STR(DRIFT_VERSION_MINOR) "." DRIFT_STR(DRIFT_VERSION_PATCH);
}
