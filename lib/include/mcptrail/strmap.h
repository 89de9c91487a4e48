/* String-keyed hash map with a fixed-size value per key, for counting and
 * indexing by ids (sessions, repositories, event ids) in the consumers.
 *
 * Keys are byte strings (any bytes, copied and NUL-terminated); each entry's
 * value is value_size bytes, zeroed when the key is first seen. Entries are
 * allocated one by one, so value and key pointers stay valid until
 * mt_strmap_free, however the table grows. Open addressing, at most half
 * full; FNV-1a. Not thread-safe. */
#ifndef MCPTRAIL_STRMAP_H
#define MCPTRAIL_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mt_strmap_entry mt_strmap_entry;

typedef struct mt_strmap {
    mt_strmap_entry **slots;
    size_t cap, n, value_size;
} mt_strmap;

void mt_strmap_init(mt_strmap *m, size_t value_size);
void mt_strmap_free(mt_strmap *m);

/* The value of key[0..klen), created (zeroed) if absent; *created (may be
 * NULL) says which. NULL when out of memory. */
void *mt_strmap_get(mt_strmap *m, const char *key, size_t klen, bool *created);
/* The value of key, or NULL when absent. */
void *mt_strmap_find(const mt_strmap *m, const char *key, size_t klen);
/* The key (NUL-terminated copy) of a value returned by get or next. */
const char *mt_strmap_key(const mt_strmap *m, const void *value, size_t *klen);
size_t mt_strmap_count(const mt_strmap *m);

/* The map's hash of n bytes (64-bit FNV-1a), for callers that key their own
 * tables the same way. */
uint64_t mt_strmap_hash(const void *p, size_t n);

/* Iteration in table order: start with *it = 0; true while entries remain. */
bool mt_strmap_next(const mt_strmap *m, size_t *it, void **value);

#endif
