/* Tests for the strict JSON reader and the streaming writer. */
#include "drift/core.h"
#include "drift/json.h"
#include "test.h"

static drift_json *parse_ok(const char *text)
{
    drift_json *v = NULL;
    int st = drift_json_parse(text, strlen(text), "t.json", &v);
    CHECK_MSG(st == 0, "parse '%s': %s", text, drift_last_error());
    return v;
}

static void test_values(void)
{
    drift_json *v = parse_ok(" {\"a\": [1, -2, 3.5, -0.25e2, 1E+3, 0], \"b\": {\"c\": null,"
                             " \"d\": true, \"e\": false}, \"s\": \"x\\\"y\\\\z\\/\\n\\t\"} ");
    CHECK(v && v->type == DRIFT_JSON_OBJECT && v->count == 3);
    const drift_json *a = drift_json_get(v, "a");
    CHECK(a && a->type == DRIFT_JSON_ARRAY && a->count == 6);
    CHECK(a->items[0].is_integer && a->items[0].integer == 1);
    CHECK(a->items[1].is_integer && a->items[1].integer == -2);
    CHECK(!a->items[2].is_integer && a->items[2].number == 3.5);
    CHECK(!a->items[3].is_integer && a->items[3].number == -25.0);
    CHECK(!a->items[4].is_integer && a->items[4].number == 1000.0);
    CHECK(a->items[5].is_integer && a->items[5].integer == 0);
    const drift_json *b = drift_json_get(v, "b");
    CHECK(drift_json_get(b, "c")->type == DRIFT_JSON_NULL);
    CHECK(drift_json_get(b, "d")->type == DRIFT_JSON_BOOL && drift_json_get(b, "d")->boolean);
    CHECK(drift_json_get(b, "e")->boolean == 0);
    CHECK(drift_json_get(b, "zz") == NULL);
    CHECK(strcmp(drift_json_get(v, "s")->string, "x\"y\\z/\n\t") == 0);
    drift_json_free(v);

    /* int64 extremes stay exact; one past them is only a double. */
    v = parse_ok("[9223372036854775807, -9223372036854775808, 9223372036854775808]");
    CHECK(v->items[0].is_integer && v->items[0].integer == INT64_MAX);
    CHECK(v->items[1].is_integer && v->items[1].integer == INT64_MIN);
    CHECK(!v->items[2].is_integer && v->items[2].number == 9223372036854775808.0);
    drift_json_free(v);

    /* Unicode: escapes become UTF-8, raw UTF-8 passes through, \u0000 is kept. */
    v = parse_ok("[\"\\u00e9\", \"\\ud83d\\ude00\", \"caf\xc3\xa9\", \"a\\u0000b\"]");
    CHECK(strcmp(v->items[0].string, "\xc3\xa9") == 0);
    CHECK(strcmp(v->items[1].string, "\xf0\x9f\x98\x80") == 0);
    CHECK(strcmp(v->items[2].string, "caf\xc3\xa9") == 0);
    CHECK(v->items[3].string_len == 3 && v->items[3].string[1] == '\0');
    drift_json_free(v);

    /* Empty containers and a bare scalar. */
    v = parse_ok("[{}, []]");
    CHECK(v->count == 2 && v->items[0].count == 0 && v->items[1].type == DRIFT_JSON_ARRAY);
    drift_json_free(v);
    v = parse_ok("  42 ");
    CHECK(v->type == DRIFT_JSON_NUMBER && v->integer == 42);
    drift_json_free(v);
}

static void test_invalid(void)
{
    const char *bad[] = {
        "", "   ", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "-", "1e", "1e+", "NaN",
        "Infinity", "tru", "nul", "\"\\x\"", "\"abc", "\"a\x01\"", "\"\xc3\x28\"", "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"", "\"\\ud800\"", "\"\\udc00\"",
        "\"\\ud800\\u0041\"", "\"\\u12\"", "{\"a\":1,\"a\":2}", "[1] 2", "{1:2}", "{'a':1}",
        "// c\n1", "{\"a\" 1}", "[1 2]", "\"\xe2\x82\"", "[\"a\",]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        drift_json *v = (drift_json *)1;
        int st = drift_json_parse(bad[i], strlen(bad[i]), "bad.json", &v);
        CHECK_MSG(st == DRIFT_EFORMAT, "case %zu '%s' gave %d", i, bad[i], st);
        CHECK(v == NULL);
        CHECK(strstr(drift_last_error(), "bad.json") != NULL);
    }
    drift_json *v;
    CHECK(drift_json_parse("{\"k\":1,\"k\":2}", 13, "d.json", &v) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "duplicate key \"k\"") != NULL);
    /* The byte offset of the problem is in the message. */
    CHECK(drift_json_parse("[1, 2, x]", 9, "o.json", &v) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "byte 7") != NULL);
}

static void test_depth_limit(void)
{
    char deep[2 * DRIFT_JSON_MAX_DEPTH + 8];
    int d = DRIFT_JSON_MAX_DEPTH;
    memset(deep, '[', (size_t)d);
    memset(deep + d, ']', (size_t)d);
    drift_json *v;
    CHECK_OK(drift_json_parse(deep, 2 * (size_t)d, "deep.json", &v));
    drift_json_free(v);
    d++;
    memset(deep, '[', (size_t)d);
    memset(deep + d, ']', (size_t)d);
    CHECK(drift_json_parse(deep, 2 * (size_t)d, "deep.json", &v) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "too deep") != NULL);
}

static void test_writer_round_trip(void)
{
    drift_jsonw w;
    drift_jsonw_init(&w);
    drift_jsonw_begin_object(&w);
    drift_jsonw_key(&w, "step");
    drift_jsonw_int(&w, -42);
    drift_jsonw_key(&w, "loss");
    drift_jsonw_double(&w, 0.1);
    drift_jsonw_key(&w, "nan");
    drift_jsonw_double(&w, NAN);
    drift_jsonw_key(&w, "inf");
    drift_jsonw_double(&w, -INFINITY);
    drift_jsonw_key(&w, "name \"q\"");
    drift_jsonw_string(&w, "tab\there\x01\\ caf\xc3\xa9");
    drift_jsonw_key(&w, "list");
    drift_jsonw_begin_array(&w);
    drift_jsonw_bool(&w, 1);
    drift_jsonw_null(&w);
    drift_jsonw_begin_array(&w);
    drift_jsonw_end_array(&w);
    drift_jsonw_begin_object(&w);
    drift_jsonw_end_object(&w);
    drift_jsonw_end_array(&w);
    drift_jsonw_end_object(&w);
    CHECK_OK(drift_jsonw_status(&w));
    CHECK(strstr(w.buf, "\"loss\":0.10000000000000001") != NULL);
    CHECK(strstr(w.buf, "\"nan\":null,\"inf\":null") != NULL);
    CHECK(strstr(w.buf, "\\u0001") != NULL);

    drift_json *v = parse_ok(w.buf);
    CHECK(drift_json_get(v, "step")->integer == -42);
    CHECK(drift_json_get(v, "loss")->number == 0.1);
    CHECK(drift_json_get(v, "nan")->type == DRIFT_JSON_NULL);
    CHECK(strcmp(drift_json_get(v, "name \"q\"")->string, "tab\there\x01\\ caf\xc3\xa9") == 0);
    const drift_json *l = drift_json_get(v, "list");
    CHECK(l->count == 4 && l->items[0].boolean == 1 && l->items[1].type == DRIFT_JSON_NULL &&
          l->items[2].type == DRIFT_JSON_ARRAY && l->items[3].type == DRIFT_JSON_OBJECT);
    drift_json_free(v);

    /* Fewer digits for logs; reset keeps the setting. */
    w.double_digits = 9;
    drift_jsonw_reset(&w);
    drift_jsonw_double(&w, 0.1f);
    CHECK(strcmp(w.buf, "0.100000001") == 0);
    drift_jsonw_free(&w);
}

static void test_writer_misuse(void)
{
    drift_jsonw w;
    drift_jsonw_init(&w);
    drift_jsonw_begin_object(&w);
    CHECK(drift_jsonw_int(&w, 1) == DRIFT_EINVAL); /* no key */
    CHECK(drift_jsonw_key(&w, "a") == DRIFT_EINVAL); /* sticky */
    CHECK(drift_jsonw_status(&w) == DRIFT_EINVAL);
    drift_jsonw_free(&w);

    drift_jsonw_init(&w);
    drift_jsonw_begin_array(&w);
    CHECK(drift_jsonw_key(&w, "a") == DRIFT_EINVAL); /* key in an array */
    drift_jsonw_free(&w);

    drift_jsonw_init(&w);
    drift_jsonw_begin_array(&w);
    CHECK(drift_jsonw_end_object(&w) == DRIFT_EINVAL);
    drift_jsonw_free(&w);

    drift_jsonw_init(&w);
    drift_jsonw_begin_object(&w);
    drift_jsonw_key(&w, "a");
    CHECK(drift_jsonw_status(&w) == DRIFT_EINVAL); /* unclosed, dangling key */
    drift_jsonw_free(&w);

    drift_jsonw_init(&w);
    drift_jsonw_int(&w, 1);
    CHECK(drift_jsonw_int(&w, 2) == DRIFT_EINVAL); /* two top-level values */
    drift_jsonw_free(&w);
}

int main(void)
{
    RUN(test_values);
    RUN(test_invalid);
    RUN(test_depth_limit);
    RUN(test_writer_round_trip);
    RUN(test_writer_misuse);
    return TEST_SUMMARY();
}
