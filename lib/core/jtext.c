/* jtext.c - see jtext.h. */
#include "jtext.h"

#include <string.h>

/* The length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned cp;
    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool jtext_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t l = seq_len(p + i, len - i);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

void jtext_repair(buf_t *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t l = seq_len(p + i, len - i);
        if (l) {
            buf_append(out, s + i, l);
            i += l;
        } else {
            buf_puts(out, "\xEF\xBF\xBD");
            i++;
        }
    }
}

json_t *jtext(const char *s)
{
    if (!s)
        return json_null();
    size_t len = strlen(s);
    if (jtext_valid(s, len)) {
        json_t *j = json_stringn(s, len);
        if (j)
            return j;
    }
    buf_t b = BUF_INIT;
    jtext_repair(&b, s);
    json_t *j = json_stringn(buf_str(&b), b.len);
    buf_free(&b);
    return j ? j : json_string("\xEF\xBF\xBD");
}
