/* pace.c - see pace.h. */
#include "pace.h"

/* FNV-1a (64 bit), then a final mix so that keys differing only in their
 * last characters (n1, n2, ...) land far apart rather than in order. */
static uint64_t key_hash(const char *key)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *s = (const unsigned char *)key; *s; s++) {
        h ^= *s;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

pace_judgement_t pace_judge_timeout(const pace_timeout_t *t)
{
    if (t->looked_again)
        return PACE_TIMEOUT_COUNTS;
    if (t->took_ms > t->timeout_ms + t->timeout_ms / 10)
        return PACE_AGAIN_LATE;
    if (t->query_budget_ms && t->query_budget_ms < t->timeout_ms / 2)
        return PACE_AGAIN_STARVED;
    if (t->stalled)
        return PACE_AGAIN_STALLED;
    return PACE_TIMEOUT_COUNTS;
}

uint64_t pace_offset_ms(const char *key, uint64_t period_ms)
{
    if (!key || period_ms == 0)
        return 0;
    return key_hash(key) % period_ms;
}
