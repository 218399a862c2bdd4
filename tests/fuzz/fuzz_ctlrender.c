/* failoverctl's rendering of any reply: whatever the daemon (or something
 * posing as it) sends, every renderer's output has lines of at most 80
 * columns and no control character but the newline. */
#include "buf.h"
#include "ctlrender.h"
#include "fuzz.h"

static void check(const char *what, const char *text)
{
    size_t col = 0;
    const char *line = text;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n') {
            col = 0;
            line = (const char *)p + 1;
            continue;
        }
        FUZZ_CHECK(*p >= 0x20 && *p != 0x7f, "%s: control character 0x%02x in \"%.100s\"", what,
                   *p, line);
        FUZZ_CHECK(!(*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F), "%s: C1 control in \"%.100s\"",
                   what, line);
        if ((*p & 0xC0) != 0x80)
            col++;
        FUZZ_CHECK(col <= 80, "%s: a line longer than 80 columns: \"%.200s\"", what, line);
    }
}

typedef void (*render_fn)(buf_t *out, const json_t *v);

static void one(const char *what, render_fn fn, const json_t *v)
{
    buf_t b = BUF_INIT;
    fn(&b, v);
    check(what, buf_str(&b));
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    json_error_t e;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (v) {
        if (json_is_object(v))
            one("status", ctlrender_status, v);
        one("operation", ctlrender_operation, v);
        one("plan", ctlrender_plan, v);
        one("history", ctlrender_history, v);
        one("generic", ctlrender_generic, v);
        json_decref(v);
    }
    char *s = fuzz_str(data, size);
    char *text = fuzz_split(s, '|');
    buf_t b = BUF_INIT;
    ctlrender_message(&b, s, text);
    check("message", buf_str(&b));
    buf_reset(&b);
    ctlrender_gtid_summary(&b, text, 30);
    check("gtid summary", buf_str(&b));
    buf_free(&b);
    free(s);
    return 0;
}
