/* corrupt.c — images that are not data: the outlier exposure of the feature network, and
 * the corruptions of the sanity sets.
 *
 * A feature network trained only to tell real classes apart maps an input unlike any real
 * image (uniform noise, a flat grey square) somewhere among the real features, often inside
 * the k-NN ball of an atypical real image: precision then calls noise "realistic". The
 * classifier is therefore trained with one extra class, "not an image of this dataset", whose
 * examples come from eval_synth_outlier below (outlier exposure, Hendrycks et al. 2019). The
 * sanity sets (sanity.c) reuse the corruptions to show that every metric punishes them.
 *
 * All images are rows of h·w·c floats, channel last, in drift's pixel range [-1, 1]; the
 * strengths of the public corruptions are in the usual [0, 1] pixel units (a noise σ of 0.1
 * is a tenth of the full range), as papers and users state them. */
#include <math.h>
#include <string.h>

#include "drift/core.h"
#include "drift/rng.h"
#include "eval/eval_internal.h"

static float clampf(float v) { return v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v; }

void eval_add_noise(float *img, int64_t dim, double sigma01, drift_rng *rng)
{
    const double s = 2.0 * sigma01; /* [0, 1] units to [-1, 1] units */
    for (int64_t i = 0; i < dim; i++) img[i] = clampf((float)(img[i] + s * drift_rng_normal(rng)));
}

void eval_salt_pepper(float *img, int64_t dim, double rate, drift_rng *rng)
{
    for (int64_t i = 0; i < dim; i++)
        if (drift_rng_uniform(rng) < rate) img[i] = drift_rng_u32(rng) & 1 ? 1.0f : -1.0f;
}

int eval_blur(float *img, int h, int w, int c, double sigma)
{
    if (!(sigma > 0)) return DRIFT_OK;
    const int r = (int)ceil(3.0 * sigma);
    const int taps = 2 * r + 1;
    float *k = drift_alloc((size_t)taps, sizeof(float));
    float *tmp = drift_alloc((size_t)h * w * c, sizeof(float));
    if (!k || !tmp) {
        drift_free(k), drift_free(tmp);
        return DRIFT_ENOMEM;
    }
    double sum = 0;
    for (int t = -r; t <= r; t++) sum += exp(-0.5 * t * t / (sigma * sigma));
    for (int t = -r; t <= r; t++) k[t + r] = (float)(exp(-0.5 * t * t / (sigma * sigma)) / sum);
    /* Separable: rows into tmp, then columns back into img; edges clamped (replicated). */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                float s = 0;
                for (int t = -r; t <= r; t++) {
                    int xx = x + t < 0 ? 0 : x + t >= w ? w - 1 : x + t;
                    s += k[t + r] * img[((size_t)y * w + xx) * c + ch];
                }
                tmp[((size_t)y * w + x) * c + ch] = s;
            }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                float s = 0;
                for (int t = -r; t <= r; t++) {
                    int yy = y + t < 0 ? 0 : y + t >= h ? h - 1 : y + t;
                    s += k[t + r] * tmp[((size_t)yy * w + x) * c + ch];
                }
                img[((size_t)y * w + x) * c + ch] = s;
            }
    drift_free(k), drift_free(tmp);
    return DRIFT_OK;
}

/* A smooth random field: a g×g grid of normals, bilinearly interpolated to h×w. */
static void smooth_field(float *out, int h, int w, int c, drift_rng *rng)
{
    enum { G = 5 };
    float grid[G][G][4];
    for (int i = 0; i < G; i++)
        for (int j = 0; j < G; j++)
            for (int ch = 0; ch < c && ch < 4; ch++) grid[i][j][ch] = (float)drift_rng_normal(rng);
    const float gain = 0.3f + 1.2f * drift_rng_uniformf(rng);
    const float offset = 2.0f * drift_rng_uniformf(rng) - 1.0f;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float fy = (float)y * (G - 1) / (float)(h > 1 ? h - 1 : 1);
            float fx = (float)x * (G - 1) / (float)(w > 1 ? w - 1 : 1);
            int y0 = (int)fy < G - 1 ? (int)fy : G - 2, x0 = (int)fx < G - 1 ? (int)fx : G - 2;
            float ty = fy - y0, tx = fx - x0;
            for (int ch = 0; ch < c; ch++) {
                int cc = ch < 4 ? ch : 3;
                float v = (1 - ty) * ((1 - tx) * grid[y0][x0][cc] + tx * grid[y0][x0 + 1][cc]) +
                          ty * ((1 - tx) * grid[y0 + 1][x0][cc] + tx * grid[y0 + 1][x0 + 1][cc]);
                out[((size_t)y * w + x) * c + ch] = clampf(offset + gain * v);
            }
        }
}

/* Stripes (one sinusoid) or a checkerboard-like product of two, random frequency and phase. */
static void pattern(float *out, int h, int w, int c, drift_rng *rng)
{
    const double f1 = 0.04 + 0.4 * drift_rng_uniform(rng), a1 = M_PI * drift_rng_uniform(rng);
    const double f2 = 0.04 + 0.4 * drift_rng_uniform(rng), a2 = a1 + M_PI / 2;
    const double p1 = 2 * M_PI * drift_rng_uniform(rng), p2 = 2 * M_PI * drift_rng_uniform(rng);
    const int product = drift_rng_u32(rng) & 1;
    const double amp = 0.3 + 0.7 * drift_rng_uniform(rng), mid = 0.6 * drift_rng_uniform(rng) - 0.3;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double v = sin(2 * M_PI * f1 * (x * cos(a1) + y * sin(a1)) + p1);
            if (product) v *= sin(2 * M_PI * f2 * (x * cos(a2) + y * sin(a2)) + p2);
            for (int ch = 0; ch < c; ch++) out[((size_t)y * w + x) * c + ch] = clampf((float)(mid + amp * v));
        }
}

/* The real image cut into a 4×4 grid of tiles, the tiles permuted (edges that do not fill a
 * tile stay in place): local statistics of the data, global structure of none. */
static void shuffled_tiles(float *out, const float *real, int h, int w, int c, drift_rng *rng)
{
    enum { T = 4 };
    const int th = h / T, tw = w / T;
    memcpy(out, real, (size_t)h * w * c * sizeof(float));
    if (th < 1 || tw < 1) return;
    int perm[T * T];
    for (int i = 0; i < T * T; i++) perm[i] = i;
    drift_rng_shuffle(rng, perm, T * T);
    for (int t = 0; t < T * T; t++) {
        int dy = (t / T) * th, dx = (t % T) * tw;
        int sy = (perm[t] / T) * th, sx = (perm[t] % T) * tw;
        for (int y = 0; y < th; y++)
            memcpy(out + ((size_t)(dy + y) * w + dx) * c, real + ((size_t)(sy + y) * w + sx) * c,
                   (size_t)tw * c * sizeof(float));
    }
}

const char *eval_outlier_name(int type)
{
    static const char *const names[EVAL_OUTLIER_TYPES] = {
        "gaussian noise", "uniform noise", "constant", "smooth field", "pattern",
        "shuffled tiles", "real + heavy noise", "inverted real"};
    return type >= 0 && type < EVAL_OUTLIER_TYPES ? names[type] : "?";
}

void eval_synth_outlier(float *out, int type, const float *real, int h, int w, int c,
                        drift_rng *rng)
{
    const int64_t dim = (int64_t)h * w * c;
    switch (type) {
    case 0: { /* gaussian noise around a random grey, random strength */
        float mean = 2.0f * drift_rng_uniformf(rng) - 1.0f, sd = 0.1f + 0.9f * drift_rng_uniformf(rng);
        for (int64_t i = 0; i < dim; i++) out[i] = clampf(mean + sd * (float)drift_rng_normal(rng));
        break;
    }
    case 1: { /* uniform noise on a random sub-interval at least a quarter of the range wide */
        float a = 2.0f * drift_rng_uniformf(rng) - 1.0f, b = 2.0f * drift_rng_uniformf(rng) - 1.0f;
        if (a > b) { float t = a; a = b; b = t; }
        if (b - a < 0.5f) { a = fmaxf(-1.0f, a - 0.25f); b = fminf(1.0f, b + 0.25f); }
        for (int64_t i = 0; i < dim; i++) out[i] = a + (b - a) * drift_rng_uniformf(rng);
        break;
    }
    case 2: { /* one grey level everywhere */
        float v = 2.0f * drift_rng_uniformf(rng) - 1.0f;
        for (int64_t i = 0; i < dim; i++) out[i] = v;
        break;
    }
    case 3: smooth_field(out, h, w, c, rng); break;
    case 4: pattern(out, h, w, c, rng); break;
    case 5: shuffled_tiles(out, real, h, w, c, rng); break;
    case 6: /* noise σ 0.3 .. 0.6 in [0, 1] units: the object still visible, the image not real */
        memcpy(out, real, (size_t)dim * sizeof(float));
        eval_add_noise(out, dim, 0.3 + 0.3 * drift_rng_uniform(rng), rng);
        break;
    default: /* inverted: object and background swap brightness */
        for (int64_t i = 0; i < dim; i++) out[i] = -real[i];
        break;
    }
}
