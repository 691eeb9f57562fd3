/* Tests for safetensors: round trips of every dtype with metadata, the exact file layout,
 * lookups and copies, writer validation, and malformed files. */
#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/safetensors.h"
#include "test.h"

static char tmpdir[64];

static void path_in_tmp(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static uint64_t u64le(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

static void test_round_trip(void)
{
    float w[6] = {1.5f, -2.f, 3.25f, 0.f, 1e-20f, -7.f};
    double step_lr[1] = {3e-4};
    int32_t ids[4] = {-1, 2, INT32_MAX, INT32_MIN};
    int64_t step = 123456789012LL;
    uint8_t mask[5] = {0, 1, 255, 7, 9};
    drift_st_tensor ts[] = {
        {.name = "layer.0.weight", .dtype = DRIFT_DTYPE_F32, .ndim = 2, .shape = {2, 3}, .data = w},
        {.name = "mask", .dtype = DRIFT_DTYPE_U8, .ndim = 1, .shape = {5}, .data = mask},
        {.name = "ids", .dtype = DRIFT_DTYPE_I32, .ndim = 2, .shape = {2, 2}, .data = ids},
        {.name = "step", .dtype = DRIFT_DTYPE_I64, .ndim = 0, .data = &step},
        {.name = "lr", .dtype = DRIFT_DTYPE_F64, .ndim = 1, .shape = {1}, .data = step_lr},
        {.name = "empty", .dtype = DRIFT_DTYPE_F32, .ndim = 2, .shape = {0, 4}, .data = NULL},
    };
    drift_st_meta meta[] = {{"format", "pt"}, {"config", "{\"tau\": [0.02, 0.05]}"},
                            {"note", "line\nbreak \"quoted\" caf\xc3\xa9"}};
    char path[128];
    path_in_tmp(path, sizeof path, "rt.safetensors");
    CHECK_OK(drift_safetensors_write(path, ts, 6, meta, 3));

    /* Layout: header length multiple of 8, data = sum of tensor bytes. */
    size_t len = 0;
    unsigned char *raw = test_read_file(path, &len);
    uint64_t hlen = u64le(raw);
    CHECK(hlen % 8 == 0);
    CHECK(len == 8 + hlen + 24 + 5 + 16 + 8 + 8);
    CHECK(raw[8] == '{');
    free(raw);

    drift_safetensors *st;
    CHECK_OK(drift_safetensors_read(path, &st));
    CHECK(drift_safetensors_count(st) == 6);
    /* Reference order: 8-byte types first, then by name; offsets ascending. */
    const char *order[] = {"lr", "step", "empty", "ids", "layer.0.weight", "mask"};
    for (size_t i = 0; i < 6; i++) {
        const drift_st_tensor *t = drift_safetensors_tensor(st, i);
        CHECK_MSG(strcmp(t->name, order[i]) == 0, "slot %zu is %s", i, t->name);
        CHECK(((uintptr_t)t->data) % drift_dtype_size(t->dtype) == 0);
    }
    CHECK(drift_safetensors_tensor(st, 6) == NULL);
    for (size_t k = 0; k < 6; k++) {
        const drift_st_tensor *t;
        CHECK_OK(drift_safetensors_find(st, ts[k].name, &t));
        CHECK(t->dtype == ts[k].dtype && t->ndim == ts[k].ndim);
        size_t count = 1;
        for (int d = 0; d < t->ndim; d++) {
            CHECK(t->shape[d] == ts[k].shape[d]);
            count *= (size_t)t->shape[d];
        }
        if (count) CHECK(memcmp(t->data, ts[k].data, count * drift_dtype_size(t->dtype)) == 0);
    }
    float back[6];
    CHECK_OK(drift_safetensors_copy(st, "layer.0.weight", DRIFT_DTYPE_F32, back, 6));
    CHECK(memcmp(back, w, sizeof w) == 0);
    CHECK(drift_safetensors_copy(st, "layer.0.weight", DRIFT_DTYPE_F32, back, 5) == DRIFT_ESHAPE);
    CHECK(strstr(drift_last_error(), "(2, 3)") && strstr(drift_last_error(), "expected 5"));
    CHECK(drift_safetensors_copy(st, "ids", DRIFT_DTYPE_F32, back, 4) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "I32") != NULL);
    const drift_st_tensor *t;
    CHECK(drift_safetensors_find(st, "nope", &t) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "nope") && strstr(drift_last_error(), path));

    CHECK(drift_safetensors_meta_count(st) == 3);
    CHECK(strcmp(drift_safetensors_meta(st, "format"), "pt") == 0);
    CHECK(strcmp(drift_safetensors_meta(st, "config"), "{\"tau\": [0.02, 0.05]}") == 0);
    CHECK(strcmp(drift_safetensors_meta(st, "note"), meta[2].value) == 0);
    CHECK(drift_safetensors_meta(st, "absent") == NULL);
    CHECK(strcmp(drift_safetensors_meta_at(st, 0)->key, "format") == 0);
    drift_safetensors_free(st);

    /* No tensors and no metadata is still a valid file: "{}" padded. */
    path_in_tmp(path, sizeof path, "empty.safetensors");
    CHECK_OK(drift_safetensors_write(path, NULL, 0, NULL, 0));
    CHECK_OK(drift_safetensors_read(path, &st));
    CHECK(drift_safetensors_count(st) == 0 && drift_safetensors_meta_count(st) == 0);
    drift_safetensors_free(st);
}

static void test_writer_validation(void)
{
    float x[2] = {1, 2};
    char path[128];
    path_in_tmp(path, sizeof path, "v.safetensors");
    drift_st_tensor dup[2] = {
        {.name = "a", .dtype = DRIFT_DTYPE_F32, .ndim = 1, .shape = {2}, .data = x},
        {.name = "a", .dtype = DRIFT_DTYPE_F64, .ndim = 1, .shape = {1}, .data = x},
    };
    CHECK(drift_safetensors_write(path, dup, 2, NULL, 0) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "two tensors named 'a'") != NULL);
    drift_st_tensor reserved = {.name = "__metadata__", .dtype = DRIFT_DTYPE_F32, .ndim = 1,
                                .shape = {2}, .data = x};
    CHECK(drift_safetensors_write(path, &reserved, 1, NULL, 0) == DRIFT_EINVAL);
    drift_st_tensor neg = {.name = "n", .dtype = DRIFT_DTYPE_F32, .ndim = 1, .shape = {-2},
                           .data = x};
    CHECK(drift_safetensors_write(path, &neg, 1, NULL, 0) == DRIFT_EINVAL);
    drift_st_tensor nodata = {.name = "n", .dtype = DRIFT_DTYPE_F32, .ndim = 1, .shape = {2}};
    CHECK(drift_safetensors_write(path, &nodata, 1, NULL, 0) == DRIFT_EINVAL);
    drift_st_meta m[2] = {{"k", "1"}, {"k", "2"}};
    CHECK(drift_safetensors_write(path, dup, 1, m, 2) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "'k' given twice") != NULL);
    CHECK(access(path, F_OK) != 0); /* nothing was written */
    CHECK(drift_safetensors_write("/nonexistent-dir/a.safetensors", dup, 1, NULL, 0) ==
          DRIFT_EIO);
}

/* A file image: 8-byte length, header text, then data_len bytes 0..255 repeating. */
static size_t build(unsigned char *buf, const char *header, size_t data_len)
{
    size_t h = strlen(header);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    for (size_t i = 0; i < data_len; i++) buf[8 + h + i] = (unsigned char)i;
    return 8 + h + data_len;
}

static void test_misaligned_tensor_is_copied(void)
{
    /* Another writer may pack a U8 tensor of odd length before an F32 one. */
    unsigned char buf[512];
    size_t len = build(buf, "{\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                            "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[3,11]}}",
                       11);
    float vals[2] = {0.5f, -4.f};
    size_t data = len - 11;
    memcpy(buf + data + 3, vals, 8);
    drift_safetensors *st;
    CHECK_OK(drift_safetensors_parse(buf, len, "packed.safetensors", &st));
    const drift_st_tensor *t;
    CHECK_OK(drift_safetensors_find(st, "w", &t));
    CHECK(((uintptr_t)t->data) % 4 == 0);
    CHECK(((const float *)t->data)[0] == 0.5f && ((const float *)t->data)[1] == -4.f);
    CHECK_OK(drift_safetensors_find(st, "b", &t));
    CHECK(((const uint8_t *)t->data)[2] == 2);
    drift_safetensors_free(st);
}

struct bad_case {
    const char *name, *header;
    size_t data_len;
    int status;
    const char *says;
};

#define T(name, dtype, shape, offs) \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

static void test_malformed(void)
{
    const struct bad_case cases[] = {
        {"not_json", "{\"a\":", 0, DRIFT_EFORMAT, "invalid JSON"},
        {"array_root", "[1, 2]", 0, DRIFT_EFORMAT, "not a JSON object"},
        {"entry_not_object", "{\"a\": 3}", 0, DRIFT_EFORMAT, "'a': entry is not an object"},
        {"missing_dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, DRIFT_EFORMAT,
         "missing 'dtype'"},
        {"extra_field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}",
         4, DRIFT_EFORMAT, "unexpected fields"},
        {"unknown_dtype", "{" T("a", "Q7", "[1]", "[0,4]") "}", 4, DRIFT_EFORMAT,
         "unknown dtype 'Q7'"},
        {"bf16", "{" T("a", "BF16", "[2]", "[0,4]") "}", 4, DRIFT_EUNSUPPORTED, "BF16"},
        {"negative_dim", "{" T("a", "F32", "[-1]", "[0,4]") "}", 4, DRIFT_EFORMAT, "shape[0]"},
        {"float_dim", "{" T("a", "F32", "[2.0]", "[0,8]") "}", 8, DRIFT_EFORMAT, "shape[0]"},
        {"nine_dims", "{" T("a", "U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]") "}", 1,
         DRIFT_EUNSUPPORTED, "9 dimensions"},
        {"size_mismatch", "{" T("a", "F32", "[3]", "[0,8]") "}", 8, DRIFT_EFORMAT,
         "need 12"},
        {"overflow", "{" T("a", "F64", "[4294967296,4294967296]", "[0,8]") "}", 8, DRIFT_EFORMAT,
         "overflows"},
        {"begin_after_end", "{" T("a", "U8", "[0]", "[8,4]") "}", 8, DRIFT_EFORMAT, "begin 8 > end 4"},
        {"one_offset", "{" T("a", "U8", "[4]", "[4]") "}", 4, DRIFT_EFORMAT, "[begin, end]"},
        {"overlap", "{" T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[1]", "[4,8]") "}", 8,
         DRIFT_EFORMAT, "overlaps"},
        {"gap", "{" T("a", "F32", "[1]", "[0,4]") "," T("b", "F32", "[1]", "[8,12]") "}", 12,
         DRIFT_EFORMAT, "gap of 4 bytes before tensor 'b'"},
        {"not_at_zero", "{" T("a", "F32", "[1]", "[4,8]") "}", 8, DRIFT_EFORMAT, "gap"},
        {"trailing_data", "{" T("a", "F32", "[1]", "[0,4]") "}", 6, DRIFT_EFORMAT,
         "data section has 6 bytes"},
        {"truncated_data", "{" T("a", "F32", "[4]", "[0,16]") "}", 10, DRIFT_EFORMAT,
         "truncated"},
        {"duplicate_name", "{" T("a", "U8", "[1]", "[0,1]") "," T("a", "U8", "[1]", "[1,2]") "}",
         2, DRIFT_EFORMAT, "duplicate key"},
        {"meta_not_string", "{\"__metadata__\":{\"k\":1}}", 0, DRIFT_EFORMAT, "'k' is not a string"},
        {"meta_not_object", "{\"__metadata__\":[]}", 0, DRIFT_EFORMAT, "not an object"},
        {"trailing_garbage", "{} x", 0, DRIFT_EFORMAT, "trailing"},
        {"bad_utf8_name", "{\"\xff\":{}}", 0, DRIFT_EFORMAT, "UTF-8"},
    };
    unsigned char buf[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad_case *k = &cases[i];
        size_t len = build(buf, k->header, k->data_len);
        char path[128], name[64];
        snprintf(name, sizeof name, "%s.safetensors", k->name);
        path_in_tmp(path, sizeof path, name);
        FILE *f = fopen(path, "wb");
        fwrite(buf, 1, len, f);
        fclose(f);
        drift_safetensors *st = (drift_safetensors *)1;
        int rc = drift_safetensors_read(path, &st);
        CHECK_MSG(rc == k->status, "%s: status %d want %d (%s)", k->name, rc, k->status,
                  drift_last_error());
        CHECK(st == NULL);
        CHECK_MSG(strstr(drift_last_error(), path) && strstr(drift_last_error(), k->says),
                  "%s: message '%s' lacks the path or '%s'", k->name, drift_last_error(), k->says);
        rc = drift_safetensors_parse(buf, len, name, &st);
        CHECK_MSG(rc == k->status, "parse %s: status %d want %d", k->name, rc, k->status);
    }

    /* Prefix damage. */
    drift_safetensors *st;
    CHECK(drift_safetensors_parse(buf, 5, "short", &st) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "too short") != NULL);
    size_t len = build(buf, "{}", 0);
    buf[7] = 0x01; /* 2^56-byte header */
    CHECK(drift_safetensors_parse(buf, len, "huge", &st) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "limit") != NULL);
    len = build(buf, "{\"__metadata__\":{}}", 0);
    CHECK(drift_safetensors_parse(buf, len - 3, "cut", &st) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "truncated header") != NULL);
    char path[128];
    path_in_tmp(path, sizeof path, "missing.safetensors");
    CHECK(drift_safetensors_read(path, &st) == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), path) != NULL);
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return;
    char p[512];
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

int main(void)
{
    strcpy(tmpdir, "/tmp/drift_st_XXXXXX");
    if (!mkdtemp(tmpdir)) return 2;
    RUN(test_round_trip);
    RUN(test_writer_validation);
    RUN(test_misaligned_tensor_is_copied);
    RUN(test_malformed);
    remove_tmpdir();
    return TEST_SUMMARY();
}
