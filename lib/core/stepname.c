/* stepname.c - see stepname.h. */
#include "stepname.h"

#include <string.h>

static const char *const role_text[] = {
    "?",
#define STEP_ROLE_TEXT_(id, text) text,
    STEP_ROLE_MAP(STEP_ROLE_TEXT_)
#undef STEP_ROLE_TEXT_
};

const char *step_role_str(step_role_t r)
{
    return r > STEP_ROLE_UNKNOWN && r < STEP_ROLE__COUNT ? role_text[r] : "?";
}

void step_name_format(step_role_t role, const char *arg, buf_t *out)
{
    buf_puts(out, step_role_str(role));
    if (arg && arg[0])
        buf_printf(out, ":%s", arg);
}

const char *step_hook_name(fo_hook_point_t point)
{
    static const char *const names[] = {
#define STEP_HOOK_NAME_(id, name, veto, step, after, doc) "hook:" name,
        FO_HOOK_POINT_MAP(STEP_HOOK_NAME_)
#undef STEP_HOOK_NAME_
    };
    return point >= 0 && point < FO_HOOK__COUNT ? names[point] : "hook:?";
}

bool step_name_parse(const char *name, step_id_t *id)
{
    *id = (step_id_t){.role = STEP_ROLE_UNKNOWN, .hook = FO_HOOK_NONE, .arg = ""};
    if (!name)
        return false;
    const char *colon = strchr(name, ':');
    size_t n = colon ? (size_t)(colon - name) : strlen(name);
    for (int r = STEP_ROLE_UNKNOWN + 1; r < STEP_ROLE__COUNT; r++)
        if (strlen(role_text[r]) == n && strncmp(name, role_text[r], n) == 0)
            id->role = (step_role_t)r;
    if (id->role == STEP_ROLE_UNKNOWN)
        return false;
    id->arg = colon ? colon + 1 : "";
    if (id->role == STEP_ROLE_HOOK)
        id->hook = fo_hook_by_name(id->arg);
    return true;
}

bool step_name_is(const char *name, step_role_t role, fo_hook_point_t hook, const char *node)
{
    step_id_t id;
    if (!step_name_parse(name, &id) || id.role != role)
        return false;
    if (role == STEP_ROLE_HOOK && hook != FO_HOOK_NONE && id.hook != hook)
        return false;
    return !node || strcmp(id.arg, node) == 0;
}
