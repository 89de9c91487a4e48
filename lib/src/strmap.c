/* String-keyed hash map (mcptrail/strmap.h). Each entry is one allocation:
 * header, value (aligned as max_align_t), key bytes and a NUL. */
#include "mcptrail/strmap.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct mt_strmap_entry {
    uint64_t hash;
    size_t klen;
    alignas(max_align_t) unsigned char value[];
};

uint64_t mt_strmap_hash(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

static size_t value_span(const mt_strmap *m)
{
    size_t a = alignof(max_align_t);
    return (m->value_size + a - 1) / a * a;
}

static char *entry_key(const mt_strmap *m, const mt_strmap_entry *e)
{
    return (char *)e->value + value_span(m);
}

static mt_strmap_entry *entry_of(const void *value)
{
    return (mt_strmap_entry *)(void *)((unsigned char *)(uintptr_t)value -
                                       offsetof(mt_strmap_entry, value));
}

void mt_strmap_init(mt_strmap *m, size_t value_size)
{
    memset(m, 0, sizeof *m);
    m->value_size = value_size;
}

void mt_strmap_free(mt_strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i]);
    free(m->slots);
    mt_strmap_init(m, m->value_size);
}

static bool grow(mt_strmap *m)
{
    size_t nc = m->cap ? m->cap * 2 : 64;
    if (nc < m->cap || nc > SIZE_MAX / sizeof *m->slots)
        return false;
    mt_strmap_entry **ns = calloc(nc, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        mt_strmap_entry *e = m->slots[i];
        if (!e)
            continue;
        size_t j = e->hash & (nc - 1);
        while (ns[j])
            j = (j + 1) & (nc - 1);
        ns[j] = e;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = nc;
    return true;
}

/* The slot holding key, or the empty slot where it goes. */
static size_t probe(const mt_strmap *m, const char *key, size_t klen, uint64_t h)
{
    size_t j = h & (m->cap - 1);
    for (mt_strmap_entry *e; (e = m->slots[j]) != NULL; j = (j + 1) & (m->cap - 1))
        if (e->hash == h && e->klen == klen && memcmp(entry_key(m, e), key, klen) == 0)
            break;
    return j;
}

void *mt_strmap_get(mt_strmap *m, const char *key, size_t klen, bool *created)
{
    if (created)
        *created = false;
    if ((m->n + 1) * 2 > m->cap && !grow(m))
        return NULL;
    uint64_t h = mt_strmap_hash(key, klen);
    size_t j = probe(m, key, klen, h);
    if (m->slots[j])
        return m->slots[j]->value;
    size_t span = value_span(m);
    if (klen > SIZE_MAX - sizeof(mt_strmap_entry) - span - 1)
        return NULL;
    mt_strmap_entry *e = calloc(1, sizeof *e + span + klen + 1);
    if (!e)
        return NULL;
    e->hash = h;
    e->klen = klen;
    if (klen)
        memcpy(entry_key(m, e), key, klen);
    m->slots[j] = e;
    m->n++;
    if (created)
        *created = true;
    return e->value;
}

void *mt_strmap_find(const mt_strmap *m, const char *key, size_t klen)
{
    if (!m->cap)
        return NULL;
    size_t j = probe(m, key, klen, mt_strmap_hash(key, klen));
    return m->slots[j] ? m->slots[j]->value : NULL;
}

const char *mt_strmap_key(const mt_strmap *m, const void *value, size_t *klen)
{
    const mt_strmap_entry *e = entry_of(value);
    if (klen)
        *klen = e->klen;
    return entry_key(m, e);
}

size_t mt_strmap_count(const mt_strmap *m)
{
    return m->n;
}

bool mt_strmap_next(const mt_strmap *m, size_t *it, void **value)
{
    for (; *it < m->cap; (*it)++)
        if (m->slots[*it]) {
            *value = m->slots[(*it)++]->value;
            return true;
        }
    return false;
}
