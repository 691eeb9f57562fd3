/* drift/encoder.h — the frozen feature encoder of feature-space drifting: training and files.
 *
 * The network is the models module's `encoder` kind (drift/models.h): a small ResNet whose
 * feature maps ("conv1", "layer1", ...) feature-space drifting (drift/features.h) compares
 * generated and real images in. It is trained here, self-supervised, on a dataset's TRAIN split
 * only and without labels, as the authors' MAE-ResNet is (lambertae/drifting,
 * models/mae_model.py): each image has patches (patch × patch pixels, each with probability
 * mask_ratio) set to 0 (mid-grey in drift's [-1, 1] range); the encoder sees the masked image;
 * a small U-Net decoder that exists only during training (bridge conv on the deepest map, then
 * per finer map: ×2 nearest upsampling, concatenation with that map, conv 3×3 → GN → ReLU; a
 * 1×1 conv to the image channels) reconstructs the image; the loss is the mean squared error
 * over the masked pixels of each image, averaged over the batch. AdamW, warm-up and cosine
 * decay. Minutes on 2 cores (docs/ENCODER.md).
 *
 * It is never the evaluation network (drift/eval.h's classifier): another file, another
 * objective, no labels.
 *
 * File: safetensors, one tensor per encoder parameter (the model's tensor table names), and
 * metadata
 *   format        DRIFT_ENCODER_FORMAT
 *   dataset       the data it was trained on ("fashion-mnist", "mnist", ...)
 *   data_hash     drift_encoder_data_hash of the training rows
 *   train_images  rows it was trained on
 *   architecture  drift_model_config_format of the encoder
 *   training      the options, "steps=... batch=... lr=... weight_decay=... mask_ratio=...
 *                 patch=... seed=..."
 *   steps, loss_start, loss_end (masked MSE over the first and last 5 % of steps), seconds
 *   hash          drift_encoder_hash: FNV-1a over every other metadata value and the weights,
 *                 so that a changed weight or field is refused on load.
 * Cached as <cache dir>/encoder-<dataset>.safetensors, beside the classifier (drift_cache_dir).
 */
#ifndef DRIFT_ENCODER_H
#define DRIFT_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "drift/models.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DRIFT_ENCODER_FORMAT "drift-encoder-1"
/* max batch of a loaded encoder's model until drift_encoder_resize */
#define DRIFT_ENCODER_LOAD_BATCH 64

struct drift_dataset;

typedef struct drift_encoder {
    struct drift_model *model;   /* kind DRIFT_MODEL_ENCODER; frozen: use forward and
                                    drift_model_backward_input */
    char dataset[64];
    char data_hash[40];          /* "fnv1a64:<16 hex digits>" of the training rows */
    char hash[40];               /* the file's content hash (see above) */
    char training[256];          /* the training options as recorded */
    int64_t steps, train_images;
    double loss_start, loss_end; /* masked reconstruction MSE, first / last 5 % of steps */
    double seconds;              /* training time */
} drift_encoder;

/* Training options; drift_encoder_opts_default fills the defaults (in brackets). */
typedef struct drift_encoder_opts {
    const char *dataset;         /* "mnist", "fashion-mnist" (any single-channel image dataset) */
    const char *data_dir;        /* NULL: drift_dataset_find_dir's search */
    drift_model_config arch;     /* kind DRIFT_MODEL_ENCODER; image shape is the data's
                                    [drift_model_config_default: widths {8, 16, 32}, depth 1] */
    int64_t steps;               /* [1500] */
    int batch;                   /* [64] */
    double lr;                   /* peak AdamW learning rate [2e-3]; cosine to lr/20 */
    double weight_decay;         /* [1e-4] */
    double mask_ratio;           /* chance of each patch being masked [0.75] */
    int patch;                   /* patch side in pixels; must divide the image [4] */
    int64_t train_limit;         /* only the first rows of the train split, 0: all [0] */
    uint64_t seed;               /* init, batches, masks [0] */
    /* Called every progress_every steps and after the last (may be NULL); loss: the mean
     * masked MSE since the previous call. */
    void (*progress)(void *ctx, int64_t step, int64_t steps, double loss);
    void *progress_ctx;
    int progress_every;          /* [100] */
} drift_encoder_opts;

void drift_encoder_opts_default(drift_encoder_opts *o, const char *dataset);

/* Loads the dataset's train split (opts->dataset, data_dir, train_limit) and trains. */
int drift_encoder_train(const drift_encoder_opts *o, drift_encoder **out);
/* The same on rows already in memory (an image dataset; labels are ignored). The dataset
 * name recorded is o->dataset when set, else train->name. */
int drift_encoder_train_on(const struct drift_dataset *train, const drift_encoder_opts *o,
                           drift_encoder **out);

/* Atomic write; creates missing parent directories. */
int drift_encoder_save(const drift_encoder *e, const char *path);
/* Loads and checks a file written by drift_encoder_save: another format, a truncated or
 * malformed file, or a content hash that does not match (a changed weight or field) is
 * DRIFT_EFORMAT; with expect_dataset, another dataset is DRIFT_EINVAL naming both; with
 * expect_data_hash, other training data is DRIFT_EINVAL naming both hashes. Each message is one
 * line naming the file. The model has max batch DRIFT_ENCODER_LOAD_BATCH. */
int drift_encoder_load(const char *path, const char *expect_dataset, const char *expect_data_hash,
                       drift_encoder **out);
/* Rebuilds e->model for batches of up to max_batch (same parameters). */
int drift_encoder_resize(drift_encoder *e, int max_batch);
void drift_encoder_free(drift_encoder *e);

/* "fnv1a64:<16 hex>": FNV-1a (64-bit) over n, dim, then the little-endian 32-bit words of the
 * float32 rows x (n, dim). Changes when any pixel, the row count or the shape does. */
int drift_encoder_data_hash(const float *x, int64_t n, int64_t dim, char *buf, size_t size);

/* <cache dir>/encoder-<dataset>.safetensors into buf (drift_cache_dir picks the directory). */
int drift_encoder_path(const char *cache_dir, const char *dataset, char *buf, size_t size);

/* The dataset's encoder, as the trainer wants it: from `path` when given (never trained), else
 * from the cache; when the cache has none and train_if_missing is set, trained with train_opts
 * (NULL: defaults for the dataset) and saved there, with log lines saying so; otherwise that is
 * DRIFT_EIO saying how to train one. A cached file that fails the load checks is an error, never
 * silently replaced. */
typedef struct drift_encoder_get_opts {
    const char *dataset;
    const char *data_dir;
    const char *cache_dir;           /* NULL: drift_cache_dir's default */
    const char *path;                /* a file to use instead of the cache, or NULL */
    const char *expect_data_hash;    /* NULL: not checked */
    int train_if_missing;
    const drift_encoder_opts *train_opts;
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
} drift_encoder_get_opts;

int drift_encoder_get(const drift_encoder_get_opts *o, drift_encoder **out);

#ifdef __cplusplus
}
#endif
#endif
