/* Tests for the JSON-lines and CSV logs: records read back with the JSON parser, appends,
 * non-finite values, misuse, CSV quoting and field counts. */
#include <unistd.h>

#include "drift/core.h"
#include "drift/json.h"
#include "drift/log.h"
#include "test.h"

static void test_jsonl(void)
{
    char path[] = "/tmp/drift_log_XXXXXX.jsonl";
    close(mkstemps(path, 6));
    drift_jsonl *l;
    CHECK_OK(drift_jsonl_open(&l, path, 1));
    for (int step = 0; step < 3; step++) {
        CHECK_OK(drift_jsonl_begin(l));
        CHECK_OK(drift_jsonl_int(l, "step", step));
        CHECK_OK(drift_jsonl_double(l, "loss", 1.0 / (step + 3)));
        CHECK_OK(drift_jsonl_double(l, "lossf", (float)(1.0 / (step + 3))));
        CHECK_OK(drift_jsonl_double(l, "bad", step == 1 ? NAN : step == 2 ? -INFINITY : 0.5));
        CHECK_OK(drift_jsonl_string(l, "note", "a \"quoted\"\ttab"));
        CHECK_OK(drift_jsonl_bool(l, "ema", step & 1));
        drift_jsonw *w = drift_jsonl_writer(l);
        drift_jsonw_key(w, "per_tau");
        drift_jsonw_begin_array(w);
        drift_jsonw_double(w, 0.02);
        drift_jsonw_double(w, 0.05);
        drift_jsonw_end_array(w);
        CHECK_OK(drift_jsonl_end(l));
    }
    CHECK(drift_jsonl_writer(l) == NULL);
    CHECK(drift_jsonl_int(l, "x", 1) == DRIFT_EINVAL); /* outside a record */
    CHECK(drift_jsonl_end(l) == DRIFT_EINVAL);
    CHECK_OK(drift_jsonl_flush(l));
    CHECK_OK(drift_jsonl_close(l));

    /* Appending keeps earlier lines; a bad record is dropped, later ones still land. */
    CHECK_OK(drift_jsonl_open(&l, path, 0));
    CHECK_OK(drift_jsonl_begin(l));
    CHECK(drift_jsonl_begin(l) == DRIFT_EINVAL);
    drift_jsonw_begin_array(drift_jsonl_writer(l)); /* misuse: value without a key */
    CHECK(drift_jsonl_end(l) == DRIFT_EINVAL);
    CHECK_OK(drift_jsonl_begin(l));
    CHECK_OK(drift_jsonl_int(l, "step", 99));
    CHECK_OK(drift_jsonl_end(l));
    /* a discarded record writes nothing, and the writer is ready for the next one */
    CHECK_OK(drift_jsonl_begin(l));
    CHECK_OK(drift_jsonl_int(l, "step", 1000));
    drift_jsonl_discard(l);
    CHECK(drift_jsonl_writer(l) == NULL);
    drift_jsonl_discard(l); /* outside a record: nothing */
    CHECK_OK(drift_jsonl_begin(l));
    CHECK(drift_jsonl_close(l) == DRIFT_EINVAL); /* unfinished record */

    char *s = test_read_file(path, NULL);
    int lines = 0;
    for (char *line = s, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
        drift_json *v;
        CHECK_OK(drift_json_parse(line, (size_t)(nl - line), "line", &v));
        if (!v) continue;
        const drift_json *step = drift_json_get(v, "step");
        CHECK(step && step->is_integer);
        if (lines < 3) {
            CHECK(step->integer == lines);
            /* %.9g: float32 values come back exactly */
            CHECK((float)drift_json_get(v, "lossf")->number == (float)(1.0 / (lines + 3)));
            CHECK(fabs(drift_json_get(v, "loss")->number - 1.0 / (lines + 3)) < 1e-9);
            CHECK((drift_json_get(v, "bad")->type == DRIFT_JSON_NULL) == (lines > 0));
            CHECK(strcmp(drift_json_get(v, "note")->string, "a \"quoted\"\ttab") == 0);
            CHECK(drift_json_get(v, "ema")->boolean == (lines & 1));
            CHECK(drift_json_get(v, "per_tau")->count == 2);
        } else {
            CHECK(step->integer == 99);
        }
        drift_json_free(v);
    }
    CHECK(lines == 4);
    CHECK(strstr(s, "\"loss\":0.333333333,") != NULL);
    free(s);
    unlink(path);
    CHECK(drift_jsonl_open(&l, "/nonexistent-dir/m.jsonl", 0) == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), "/nonexistent-dir/m.jsonl") != NULL);
}

static void test_csv(void)
{
    char path[] = "/tmp/drift_log_XXXXXX.csv";
    close(mkstemps(path, 4));
    const char *hdr[3] = {"step", "name", "value"};
    drift_csv *c;
    CHECK_OK(drift_csv_open(&c, path, 3, hdr));
    CHECK_OK(drift_csv_int(c, 1));
    CHECK_OK(drift_csv_string(c, "plain"));
    CHECK_OK(drift_csv_double(c, 0.1));
    CHECK_OK(drift_csv_end_row(c));
    drift_csv_int(c, 2);
    drift_csv_string(c, "has,comma \"and quotes\"\nnewline");
    drift_csv_double(c, NAN);
    CHECK_OK(drift_csv_end_row(c));
    drift_csv_int(c, 3);
    CHECK(drift_csv_end_row(c) == DRIFT_EINVAL); /* too few fields: dropped */
    drift_csv_int(c, 4);
    drift_csv_int(c, 4);
    drift_csv_int(c, 4);
    CHECK(drift_csv_int(c, 4) == DRIFT_EINVAL); /* too many */
    CHECK(drift_csv_end_row(c) == DRIFT_EINVAL);
    double row[3] = {5, -INFINITY, 1e-30};
    CHECK_OK(drift_csv_row(c, row));
    CHECK_OK(drift_csv_close(c));
    char *s = test_read_file(path, NULL);
    CHECK(s && strcmp(s, "step,name,value\n1,plain,0.1\n"
                         "2,\"has,comma \"\"and quotes\"\"\nnewline\",nan\n"
                         "5,-inf,1e-30\n") == 0);
    free(s);

    double table[4] = {1, 2.5, 3, 1.0 / 3};
    const char *th[2] = {"a", "b"};
    CHECK_OK(drift_csv_write_table(path, 2, th, table, 2));
    s = test_read_file(path, NULL);
    CHECK(s && strcmp(s, "a,b\n1,2.5\n3,0.333333333\n") == 0);
    free(s);
    CHECK(drift_csv_write_table(path, 0, th, table, 2) == DRIFT_EINVAL);
    unlink(path);
}

int main(void)
{
    RUN(test_jsonl);
    RUN(test_csv);
    return TEST_SUMMARY();
}
