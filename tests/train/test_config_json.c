/* test_config_json.c — the training configuration as JSON (config.json, drift train --config,
 * drift info CKPT): every option round-trips exactly, on/off aliases, key spellings, refusals. */
#include <string.h>

#include "drift/error.h"
#include "drift/json.h"
#include "drift/train.h"
#include "test.h"

/* Every option's text form equal in a and b (the table is the whole configuration). */
static int same_options(const drift_train_config *a, const drift_train_config *b, char *which, size_t size)
{
    int n;
    const drift_train_option *o = drift_train_options(&n);
    for (int i = 0; i < n; i++) {
        char va[700], vb[700];
        drift_train_config_get(a, o[i].key, va, sizeof va);
        drift_train_config_get(b, o[i].key, vb, sizeof vb);
        if (strcmp(va, vb)) {
            snprintf(which, size, "%s: '%s' vs '%s'", o[i].key, va, vb);
            return 0;
        }
    }
    return 1;
}

static int apply_text(drift_train_config *cfg, const char *text)
{
    drift_json *j = NULL;
    int st = drift_json_parse(text, strlen(text), "test", &j);
    if (!st) st = drift_train_config_apply_json(cfg, j, "test.json");
    drift_json_free(j);
    return st;
}

/* write -> parse -> apply onto another dataset's defaults gives back every option exactly,
 * including doubles that need 17 digits and a seed above 2^63. */
static void test_round_trip(void)
{
    drift_train_config a, b;
    CHECK(drift_train_config_defaults(&a, "swiss_roll", "quick") == 0);
    CHECK(drift_train_config_set(&a, "lr", "0.1") == 0);
    CHECK(drift_train_config_set(&a, "beta2", "0.12345678901234567") == 0);
    CHECK(drift_train_config_set(&a, "tau", "0.02,0.05,0.2") == 0);
    CHECK(drift_train_config_set(&a, "drift-norm", "1") == 0);
    CHECK(drift_train_config_set(&a, "seed", "18446744073709551615") == 0);
    CHECK(drift_train_config_set(&a, "out", "runs/x \"quoted\"") == 0);
    drift_jsonw w;
    drift_jsonw_init(&w);
    CHECK(drift_train_config_write_json(&a, &w) == 0);
    CHECK_MSG(strstr(w.buf, "\"tau\":[0.02,0.05,0.2]") != NULL, "%s", w.buf); /* shortest digits */
    CHECK_MSG(strstr(w.buf, "\"drift-norm\":true") && strstr(w.buf, "\"feature-norm\":false"), "%s", w.buf);
    CHECK(drift_train_config_defaults(&b, "fashion-mnist", "default") == 0);
    CHECK_MSG(apply_text(&b, w.buf) == 0, "%s", drift_last_error());
    char which[1600] = "";
    CHECK_MSG(same_options(&a, &b, which, sizeof which), "%s", which);
    CHECK(a.field.tau[1] == b.field.tau[1] && a.beta2 == b.beta2 && a.seed == b.seed);
    drift_jsonw_free(&w);
}

/* n_pos = n-pos; true/false and numbers for on/off; "preset" skipped; unknown keys, wrong
 * types and bad on/off values refused with the file's name. */
static void test_keys_and_refusals(void)
{
    drift_train_config c;
    CHECK(drift_train_config_defaults(&c, "moons", "quick") == 0);
    CHECK(apply_text(&c, "{\"n_pos\": 40, \"n-neg\": 24, \"feature_norm\": true, \"preset\": \"default\","
                         " \"lr\": 2e-4, \"tau\": [0.1]}") == 0);
    CHECK(c.n_pos == 40 && c.n_neg == 24 && c.field.feature_norm == 1 && c.lr == 2e-4 && c.field.n_tau == 1);
    CHECK(apply_text(&c, "{\"stpes\": 5}") == DRIFT_EINVAL);
    CHECK_MSG(strstr(drift_last_error(), "test.json") && strstr(drift_last_error(), "stpes"), "%s", drift_last_error());
    CHECK(apply_text(&c, "{\"steps\": null}") == DRIFT_EINVAL);
    CHECK(apply_text(&c, "{\"tau\": [\"a\"]}") == DRIFT_EINVAL);
    CHECK(apply_text(&c, "[1, 2]") == DRIFT_EINVAL);
    CHECK(apply_text(&c, "{\"drift-norm\": 2}") == DRIFT_EINVAL);
    /* the text aliases of on/off options */
    const char *on[] = {"1", "yes", "true", "on"}, *off[] = {"0", "no", "false", "off"};
    for (int i = 0; i < 4; i++) {
        CHECK(drift_train_config_set(&c, "deng-floor", on[i]) == 0 && c.field.deng_floor == 1);
        CHECK(drift_train_config_set(&c, "deng-floor", off[i]) == 0 && c.field.deng_floor == 0);
    }
    CHECK(drift_train_config_set(&c, "deng-floor", "maybe") == DRIFT_EINVAL);
    CHECK(drift_train_config_set(&c, "deng-floor", "2") == DRIFT_EINVAL);
    CHECK(drift_train_option_is_bool("feature-norm") && drift_train_option_is_bool("conditional"));
    CHECK(!drift_train_option_is_bool("steps") && !drift_train_option_is_bool("no-such-option"));
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_keys_and_refusals);
    return TEST_SUMMARY();
}
