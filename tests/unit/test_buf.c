#include <criterion/criterion.h>
#include <string.h>

#include "buf.h"

Test(buf, append_and_printf_grow)
{
    buf_t b = BUF_INIT;
    cr_assert_str_eq(buf_str(&b), "");
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%d,", i);
    cr_assert(strncmp(buf_str(&b), "0,1,2,", 6) == 0);
    cr_assert_eq(b.len, strlen(b.data));
    buf_reset(&b);
    cr_assert_str_eq(buf_str(&b), "");
    buf_putc(&b, 'x');
    char *s = buf_steal(&b);
    cr_assert_str_eq(s, "x");
    cr_assert_null(b.data);
    free(s);
    buf_free(&b);
}

Test(buf, steal_of_empty_is_empty_string)
{
    buf_t b = BUF_INIT;
    char *s = buf_steal(&b);
    cr_assert_str_eq(s, "");
    free(s);
}
