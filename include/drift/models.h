/* drift/models.h — the networks: one-step generators and the evaluation classifier.
 *
 * A model is a config, one flat float32 parameter buffer, one flat gradient buffer of the
 * same length, and activation buffers sized at creation for a largest batch. Forward
 * caches what the backward needs; backward accumulates into `grads`. The optimizer, EMA
 * and checkpoints all work on the flat `params` / `grads` arrays, and the tensor table
 * says which slice of them is which weight (name, shape), e.g. for a safetensors file.
 *
 * Kinds:
 *   mlp         noise (noise_dim) → [linear → SiLU] per width → linear → D outputs
 *               (optionally tanh). Class and α conditioning: their embeddings are added to
 *               the first hidden layer's pre-activation. Toy 2-D default: 32→256→256→256→2.
 *   conv        for images: [noise ⊕ c] → linear → (widths[0], H/2^L, W/2^L); per level l
 *               (L = n_widths levels; levels after the first start with ×2 nearest
 *               upsampling): depth × [conv 3×3 → group norm → FiLM(c) → SiLU]; then ×2
 *               upsampling → conv 3×3 to the image channels → tanh. With 28×28 and widths
 *               {64, 32}: 7×7×64 → 14×14×32 → 28×28×1.
 *   classifier  28×28 images → conv 3×3 (widths[0]) → ReLU → max pool 2 → conv 3×3 stride 2
 *               (widths[1]) → ReLU → flatten → linear (widths[2]) → ReLU = the features →
 *               linear → n_classes logits. Used by the evaluation (accuracy, FID-like
 *               statistics on its features); train it with softmax cross-entropy (drift/nn.h).
 *   dit         for images, a small diffusion-transformer-style generator (docs/TRAINING.md):
 *               noise (an image of C·H·W values, then `style` values) → patchify (patch ×
 *               patch) → linear to widths[0] → `tokens` learnable in-context tokens (plus c)
 *               prepended → depth × block [adaLN(RMSNorm) → multi-head self-attention with
 *               QK-norm and 2-D RoPE → gated residual; adaLN → SwiGLU MLP (hidden widths[1])
 *               → gated residual], adaLN-zero modulation from c → final adaLN → linear →
 *               unpatchify → tanh. The style values pick `style` rows of a style_vocab-row
 *               codebook (index floor(V·Φ(u)), Φ the normal CDF), summed into c.
 *               noise_dim = C·H·W + style and cond_dim = widths[0] are derived.
 *   encoder     a frozen feature network for feature-space drifting (a small ResNet, as the
 *               authors' MAE encoder): conv 3×3 (widths[0]) → group norm → ReLU = the map
 *               "conv1"; then per stage l ≥ 1 (stride 2): depth × basic block [conv 3×3 → GN →
 *               ReLU → conv 3×3 → GN, plus the input (through a 1×1 conv + GN when the shape
 *               changes), ReLU], then a group norm = the map "layer<l>". No biases (every conv
 *               is normalized). Input: images (batch, C·H·W) in the data's range [-1, 1]; output
 *               row: every map, channel-major (C_l, H_l, W_l), one after another
 *               (drift_model_feature_maps says where). With 28×28 and widths {8, 16, 32}:
 *               conv1 8×28×28, layer1 16×14×14, layer2 32×7×7 = 10976 floats. Trained as a
 *               masked autoencoder (drift/encoder.h).
 *
 * Conditioning of the generators: the conditioning vector c (cond_dim) is the sum of a class
 * embedding (n_classes + 1 rows, the last one "null" = unconditional) and, with use_alpha,
 * an MLP of sinusoidal features of log α (linear → SiLU → linear). The conv generator feeds
 * c into its first linear layer and modulates every block with FiLM, h·(1 + scale) + shift,
 * where (scale, shift) = linear(SiLU(c)) starts at zero (each block starts as identity
 * modulation).
 *
 * One forward at a time per model (activations live in the model).
 */
#ifndef DRIFT_MODELS_H
#define DRIFT_MODELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DRIFT_MODEL_MLP = 0,
    DRIFT_MODEL_CONV = 1,
    DRIFT_MODEL_CLASSIFIER = 2,
    DRIFT_MODEL_DIT = 3,
    DRIFT_MODEL_ENCODER = 4,
} drift_model_kind;

#define DRIFT_MODEL_MAX_WIDTHS 8
#define DRIFT_MODEL_MAX_DEPTH 8
/* The label that asks a conditional generator for its unconditional ("null") class. */
#define DRIFT_LABEL_NULL (-1)
/* Highest frequency of the sinusoidal features of log α (lowest is 1). */
#define DRIFT_ALPHA_MAX_FREQ 16.0f

typedef struct drift_model_config {
    drift_model_kind kind;
    int noise_dim;     /* generators: noise values per sample */
    int out_dim;       /* mlp: output values per sample (D). conv/classifier: derived */
    int channels, height, width; /* image shape: conv output, classifier input (mlp: 0) */
    int n_widths;
    int widths[DRIFT_MODEL_MAX_WIDTHS]; /* mlp: hidden widths; conv: channels per level;
                                           classifier: conv1, conv2, feature width;
                                           encoder: conv1, then one per stage */
    int depth;         /* conv: blocks per level; encoder: blocks per stage (1..MAX_DEPTH) */
    int groups;        /* conv, encoder: group-norm groups (must divide every width) */
    int n_classes;     /* generators: 0 = unconditional; classifier: classes predicted */
    int use_alpha;     /* generators: take the guidance scale α as an input */
    int cond_dim;      /* conv: conditioning vector size; mlp: always widths[0] */
    int alpha_freqs;   /* sinusoidal frequencies of log α (features = 2 × this) */
    int out_tanh;      /* generators: squash outputs into (−1, 1) */
    /* dit only (0 for the other kinds); widths = {hidden, SwiGLU hidden}, depth = blocks */
    int patch;         /* patch size (divides height and width) */
    int heads;         /* attention heads: widths[0] / heads is the head size, a multiple of 4 */
    int tokens;        /* learnable in-context tokens */
    int style;         /* style indices per sample (the last `style` noise values) */
    int style_vocab;   /* rows of the style codebook */
} drift_model_config;

/* Defaults for a kind: mlp = the toy 2-D generator (32→256→256→256→2, SiLU, no tanh);
 * conv = 28×28×1, noise 64, widths {64, 32}, depth 1, 8 groups, cond 128, tanh;
 * classifier = 28×28×1, widths {32, 64, 128}, 10 classes;
 * encoder = 28×28×1, widths {8, 16, 32}, depth 1, 8 groups. Returns DRIFT_EINVAL on a bad kind. */
int drift_model_config_default(drift_model_kind kind, drift_model_config *cfg);
/* The DiT sizes: "dit-t" (widths {128, 352}, depth 4, 4 heads: about 1.3 M parameters) and
 * "dit-s" (widths {256, 688}, depth 6, 4 heads: about 7.3 M); both 28×28×1, patch 4,
 * 4 in-context tokens, 32 style indices into 64 rows, tanh. "dit" is dit-t. DRIFT_EINVAL
 * naming the sizes otherwise. (The dit kind's default is dit-t.) */
int drift_model_config_dit(const char *size, drift_model_config *cfg);
const char *drift_model_kind_name(drift_model_kind kind); /* "mlp", "conv", "classifier", "encoder" */
int drift_model_kind_parse(const char *name, drift_model_kind *kind);

/* The config as one line of "key=value" pairs ("kind=conv noise_dim=64 widths=64,32 ..."),
 * for checkpoint metadata; drift_model_config_parse reads it back (unknown keys and bad
 * values are errors naming the key). Returns DRIFT_EINVAL if buf is too small. */
int drift_model_config_format(const drift_model_config *cfg, char *buf, size_t size);
int drift_model_config_parse(const char *text, drift_model_config *cfg);

/* One slice of the flat parameter buffer. */
typedef struct drift_param_tensor {
    char name[40];     /* e.g. "block1.conv.weight" */
    size_t offset;     /* into params / grads */
    size_t count;
    int ndim;
    int shape[4];
    int decay;         /* weight decay applies (weights of linear/conv layers, embeddings) */
} drift_param_tensor;

struct drift_model_impl;

typedef struct drift_model {
    drift_model_config cfg; /* as validated, with derived values filled in */
    int in_dim;        /* floats per input row: noise_dim, or C·H·W for the classifier */
    int out_dim;       /* floats per output row: D, C·H·W, or n_classes logits */
    int feature_dim;   /* classifier: length of the feature vector; 0 otherwise */
    size_t n_params;
    float *params;     /* n_params */
    float *grads;      /* n_params; backward adds into it, drift_model_zero_grad clears it */
    int n_tensors;
    drift_param_tensor *tensors;
    int max_batch;
    int batch;         /* batch size of the last forward, 0 before the first */
    size_t act_floats; /* size of the activation buffer (and of its gradient) */
    struct drift_model_impl *impl; /* private: layout, activations, scratch */
} drift_model;

/* Validates the config (sizes positive and consistent, widths divisible by groups, image
 * size divisible by 2^levels, ...; the message names the offending field), builds the
 * layout, allocates params/grads/activations for max_batch. Parameters start at zero:
 * call drift_model_init_params. */
int drift_model_create(const drift_model_config *cfg, int max_batch, drift_model **out);
void drift_model_free(drift_model *m);

/* Fresh initialization from a seed (each tensor from its own RNG stream): linear/conv
 * weights U(±1/sqrt(fan_in)), biases 0, norm scales 1, embeddings N(0, 1), FiLM
 * projections 0 (identity modulation). */
int drift_model_init_params(drift_model *m, uint64_t seed);

/* Forward pass for `batch` rows (1..max_batch).
 * input:  (batch, in_dim): noise for generators, images (batch, C·H·W) for the classifier.
 * labels: conditional generators: class per row in [0, n_classes) or DRIFT_LABEL_NULL;
 *         NULL means all null. Must be NULL for unconditional models and the classifier.
 * alpha:  use_alpha generators: guidance scale per row (finite, > 0); NULL means α = 1.
 *         Must be NULL for models without an α input.
 * out:    (batch, out_dim), or NULL to only run the pass (e.g. before features/backward).
 * Errors (bad batch, label, α, non-finite input) are reported before anything is computed. */
int drift_model_forward(drift_model *m, const float *input, const int *labels,
                        const float *alpha, int batch, float *out);

/* Backward pass of the last forward: dout (batch, out_dim) = dL/d(output). Adds dL/dθ
 * into m->grads (call drift_model_zero_grad first for a fresh gradient). */
int drift_model_backward(drift_model *m, const float *dout);
void drift_model_zero_grad(drift_model *m);

/* dL/d(input) (batch, in_dim) of the last forward into dinput, given dout = dL/d(output):
 * the backward pass WITHOUT parameter gradients (m->grads is not touched; the weight-gradient
 * GEMMs are skipped), for a frozen network that gradients only pass through. Encoder only
 * (other kinds: DRIFT_EINVAL). _rows goes back through the first `rows` rows of the last
 * forward only (dout and dinput are (rows, ·)): with generated images first in a batch that
 * also holds data images, only the generated ones pay for a backward pass. */
int drift_model_backward_input(drift_model *m, const float *dout, float *dinput);
int drift_model_backward_input_rows(drift_model *m, const float *dout, int rows, float *dinput);

/* One feature map inside an encoder's output row: floats [offset, offset + c·h·w),
 * channel-major. */
typedef struct drift_feature_map {
    char name[24];     /* "conv1", "layer1", ... */
    size_t offset;
    int c, h, w;
} drift_feature_map;

/* The encoder's maps in output order, up to max_maps of them into maps (may be NULL with
 * max_maps 0); returns how many there are (0 for kinds without feature maps), or a negative
 * status on a NULL model. */
int drift_model_feature_maps(const drift_model *m, drift_feature_map *maps, int max_maps);

/* Classifier only: forward on images (batch, C·H·W), copying the penultimate activations
 * (batch, feature_dim) to feats; logits (batch, n_classes) to logits unless NULL. */
int drift_model_features(drift_model *m, const float *images, int batch, float *feats,
                         float *logits);

size_t drift_model_param_count(const drift_model *m);
/* A printable summary: kind, shapes, and one line per tensor with its parameter count. */
const char *drift_model_describe(const drift_model *m);
/* mask[i] = 1 where weight decay applies (n_params bytes, see drift_param_tensor.decay). */
int drift_model_decay_mask(const drift_model *m, unsigned char *mask);

#ifdef __cplusplus
}
#endif
#endif
