/* Baseline codec for the benchmarks: the same records encoded and decoded by
 * Avro C 1.11.1's generic values (avro_value_t), the path most C users of
 * Avro take. Converting the jansson sample into an avro_value_t happens once
 * outside the timed loop; only avro_value_sizeof + avro_value_write (encode)
 * and avro_value_read (decode) are timed by the caller. */
#include "avroc_baseline.h"

#include <stdlib.h>
#include <string.h>

#include "mcptrail/crypto.h"

/* Hex text (the mcptrail JSON mapping of bytes/fixed) to raw bytes. */
static int hex_to_bytes(const char *hex, uint8_t **out, size_t *n)
{
    size_t len = strlen(hex);
    uint8_t *b = malloc(len / 2 + 1);
    if (!b || mt_hex_decode(hex, len, b, len / 2 + 1, n, NULL)) {
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

static int find_branch(avro_schema_t un, const json_t *j, avro_schema_t *branch_schema,
                       const json_t **inner)
{
    size_t n = avro_schema_union_size(un);
    *inner = j;
    if (json_is_null(j)) {
        for (size_t i = 0; i < n; i++)
            if (avro_typeof(avro_schema_union_branch(un, (int)i)) == AVRO_NULL) {
                *branch_schema = avro_schema_union_branch(un, (int)i);
                return (int)i;
            }
        return -1;
    }
    if (n == 2) { /* ["null", T] carries the plain value */
        for (size_t i = 0; i < n; i++) {
            avro_schema_t b = avro_schema_union_branch(un, (int)i);
            if (avro_typeof(b) != AVRO_NULL) {
                *branch_schema = b;
                return (int)i;
            }
        }
    }
    if (!json_is_object(j) || json_object_size(j) != 1)
        return -1;
    const char *key = json_object_iter_key(json_object_iter((json_t *)j));
    *inner = json_object_iter_value(json_object_iter((json_t *)j));
    for (size_t i = 0; i < n; i++) {
        avro_schema_t b = avro_schema_union_branch(un, (int)i);
        const char *name = avro_schema_type_name(b);
        const char *ns = avro_schema_namespace(b);
        char full[256];
        snprintf(full, sizeof full, "%s%s%s", ns ? ns : "", ns ? "." : "", name ? name : "");
        if ((name && strcmp(name, key) == 0) || strcmp(full, key) == 0) {
            *branch_schema = b;
            return (int)i;
        }
    }
    return -1;
}

int mt_avroc_from_json(avro_value_t *v, const json_t *j)
{
    avro_schema_t s = avro_value_get_schema(v);
    switch (avro_value_get_type(v)) {
    case AVRO_NULL:
        return avro_value_set_null(v);
    case AVRO_BOOLEAN:
        return avro_value_set_boolean(v, json_is_true(j));
    case AVRO_INT32:
        return avro_value_set_int(v, (int32_t)json_integer_value(j));
    case AVRO_INT64:
        return avro_value_set_long(v, (int64_t)json_integer_value(j));
    case AVRO_FLOAT:
        return avro_value_set_float(v, (float)json_number_value(j));
    case AVRO_DOUBLE:
        return avro_value_set_double(v, json_number_value(j));
    case AVRO_STRING:
        return avro_value_set_string_len(v, json_string_value(j), json_string_length(j) + 1);
    case AVRO_BYTES:
    case AVRO_FIXED: {
        uint8_t *b;
        size_t n;
        if (hex_to_bytes(json_string_value(j), &b, &n))
            return -1;
        int rc = avro_value_get_type(v) == AVRO_BYTES ? avro_value_set_bytes(v, b, n)
                                                      : avro_value_set_fixed(v, b, n);
        free(b);
        return rc;
    }
    case AVRO_ENUM:
        return avro_value_set_enum(v, avro_schema_enum_get_by_name(s, json_string_value(j)));
    case AVRO_RECORD: {
        size_t n;
        avro_value_get_size(v, &n);
        for (size_t i = 0; i < n; i++) {
            avro_value_t field;
            const char *name;
            if (avro_value_get_by_index(v, i, &field, &name))
                return -1;
            const json_t *fj = json_object_get(j, name);
            if (!fj)
                fj = json_null();
            if (mt_avroc_from_json(&field, fj))
                return -1;
        }
        return 0;
    }
    case AVRO_ARRAY: {
        size_t i;
        const json_t *item;
        json_array_foreach(j, i, item)
        {
            avro_value_t elem;
            if (avro_value_append(v, &elem, NULL) || mt_avroc_from_json(&elem, item))
                return -1;
        }
        return 0;
    }
    case AVRO_MAP: {
        const char *key;
        const json_t *item;
        json_object_foreach((json_t *)j, key, item)
        {
            avro_value_t elem;
            if (avro_value_add(v, key, &elem, NULL, NULL) || mt_avroc_from_json(&elem, item))
                return -1;
        }
        return 0;
    }
    case AVRO_UNION: {
        avro_schema_t bs;
        const json_t *inner;
        int idx = find_branch(s, j, &bs, &inner);
        avro_value_t branch;
        if (idx < 0 || avro_value_set_branch(v, idx, &branch))
            return -1;
        return mt_avroc_from_json(&branch, inner);
    }
    case AVRO_LINK:
        return -1;
    }
    return -1;
}
