/* drift/version.h — the library's version, at compile time and at run time.
 *
 * The three macros below are the one place the version is written down: CMakeLists.txt reads
 * them for project(VERSION), the shared library's file name and soname, and drift.pc.
 *
 *   DRIFT_VERSION_MAJOR/MINOR/PATCH   the version of the headers being compiled against;
 *   drift_version(), drift_version_string()   the version of the library actually linked
 *                                             (they differ when a program built against one
 *                                             release runs with another's libdrift.so).
 */
#ifndef DRIFT_VERSION_H
#define DRIFT_VERSION_H

#define DRIFT_VERSION_MAJOR 0
#define DRIFT_VERSION_MINOR 1
#define DRIFT_VERSION_PATCH 0

/* One comparable number: 10000·major + 100·minor + patch (0.1.0 → 100). */
#define DRIFT_VERSION_NUMBER(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define DRIFT_VERSION DRIFT_VERSION_NUMBER(DRIFT_VERSION_MAJOR, DRIFT_VERSION_MINOR, DRIFT_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* DRIFT_VERSION of the linked library. */
int drift_version(void);
/* "major.minor.patch" of the linked library (static storage). */
const char *drift_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
