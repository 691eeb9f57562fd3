/* data_internal.h — helpers shared by the data module's source files (not public). */
#ifndef DRIFT_DATA_INTERNAL_H
#define DRIFT_DATA_INTERNAL_H

#include <stdint.h>

#include "drift/data.h"

/* Zeroes d, names it and allocates x (n, dim) and, when labelled, labels (n). n, dim < 1:
 * DRIFT_EINVAL. */
int data_dataset_alloc(drift_dataset *d, const char *name, int64_t n, int64_t dim, int labelled);

#endif
