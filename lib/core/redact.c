/* redact.c - see redact.h. */
#include "redact.h"

#include <stdbool.h>
#include <string.h>

static bool secret_name(const char *key)
{
    static const char *const words[] = {"password", "passwd", "secret", "token"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(key, words[i]))
            return true;
    return false;
}

void redact_json(json_t *j)
{
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
        {
            if (secret_name(key))
                json_object_set_new(j, key, json_string("********"));
            else
                redact_json(v);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            redact_json(v);
        }
    }
}
