/* field_internal.h — pieces shared by the reference and the fast path of the field engine. */
#ifndef DRIFT_FIELD_INTERNAL_H
#define DRIFT_FIELD_INTERNAL_H

#include "drift/field.h"

/* Shape/pointer/option checks common to both paths (values are checked separately). */
int field_check_batch_shape(const drift_field_config *cfg, int64_t n, int64_t d, int64_t p,
                            int64_t m, int64_t e, int has_x, int has_pos, int has_neg, int has_extra,
                            const drift_field_result *res);

/* Values: finite inputs, finite non-negative weights with a positive sum on the positive side.
 * `what` names the array in the message. */
int field_check_values_f32(const char *what, const float *a, int64_t count);
int field_check_values_f64(const char *what, const double *a, int64_t count);
int field_check_weights_f32(const char *what, const float *w, int64_t count, int need_positive_sum);
int field_check_weights_f64(const char *what, const double *w, int64_t count, int need_positive_sum);

/* The deng soft self-mask adds this to the normalized distance (released loss, option (b)). */
#define DENG_SOFT_MASK 100.0
/* Floor of the released deng affinity: A = sqrt(max(A_row A_col, 1e-6)) (option (c)). */
#define DENG_AFFINITY_FLOOR 1e-6
/* Floor of the mean square in the drift normalization λ² (as the released loss clips it). */
#define DRIFT_NORM_FLOOR 1e-8
/* Floor of the mean distance μ in feature normalization (all points identical). */
#define FEATURE_NORM_FLOOR 1e-12

#endif
