/* Avro schemas: parsing schema JSON (jansson) into the compact node tree of
 * avro_internal.h, Parsing Canonical Form and CRC-64-AVRO fingerprints (Avro
 * spec, "Parsing Canonical Form for Schemas" and "Schema Fingerprints"; Avro C
 * 1.11.1 has neither), and the registry of schemas/ *.avsc files.
 *
 * How: one recursive pass resolves names (namespaces inherited from the
 * enclosing named type, references looked up among types defined so far) and
 * builds nodes; PCF is then printed from the nodes rather than from the text,
 * so it is canonical by construction: full names, only name/type/fields/
 * symbols/items/values/size in that order, no whitespace, a named type written
 * in full at its first occurrence and by name afterwards. Loaded schemas are
 * also fed to Avro C's parser as an independent check. */
#include "avro_internal.h"

#include <avro.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MT_SCHEMA_DIR_DEFAULT
#define MT_SCHEMA_DIR_DEFAULT "schemas"
#endif

#define AVSC_MAX_BYTES (1u << 20) /* a schema file larger than this is a mistake */
#define CRC64_EMPTY 0xc15d213aa4d7a795ULL

struct mt_avro_registry {
    mt_avro_schema **schemas;
    size_t n;
    mt_avro_version *previous; /* earlier versions (schemas/previous), writer -> reader */
    size_t nprevious;
};

/* ---- CRC-64-AVRO ---------------------------------------------------------
 * Bitwise rather than table-driven: fingerprints are computed once per schema
 * at load, and a table would need global initialisation. */
uint64_t mt_avro_crc64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t fp = CRC64_EMPTY;
    for (size_t i = 0; i < len; i++) {
        fp ^= p[i];
        for (int k = 0; k < 8; k++)
            fp = (fp >> 1) ^ (CRC64_EMPTY & (0 - (fp & 1)));
    }
    return fp;
}

/* ---- node construction ---------------------------------------------------- */

static const struct {
    const char *name;
    av_type type;
} primitives[] = {
    {"null", AV_NULL},   {"boolean", AV_BOOLEAN}, {"int", AV_INT},     {"long", AV_LONG},
    {"float", AV_FLOAT}, {"double", AV_DOUBLE},   {"bytes", AV_BYTES}, {"string", AV_STRING},
};

const char *av_type_name(const av_node *n)
{
    switch (n->type) {
    case AV_NULL:
        return "null";
    case AV_BOOLEAN:
        return "boolean";
    case AV_INT:
        return "int";
    case AV_LONG:
        return "long";
    case AV_FLOAT:
        return "float";
    case AV_DOUBLE:
        return "double";
    case AV_BYTES:
        return "bytes";
    case AV_STRING:
        return "string";
    case AV_ARRAY:
        return "array";
    case AV_MAP:
        return "map";
    case AV_UNION:
        return "union";
    case AV_RECORD:
    case AV_ENUM:
    case AV_FIXED:
        return n->fullname;
    }
    return "?";
}

static void node_free(av_node *n)
{
    free(n->fullname);
    for (size_t i = 0; n->fields && i < n->n; i++) {
        free(n->fields[i].name);
        json_decref(n->fields[i].def);
    }
    free(n->fields);
    for (size_t i = 0; n->symbols && i < n->n; i++)
        free(n->symbols[i]);
    free(n->symbols);
    free(n->symlens);
    free(n->branches);
    free(n);
}

void mt_avro_schema_free(mt_avro_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nnodes; i++)
        node_free(s->nodes[i]);
    free(s->nodes);
    free(s->name);
    free(s->pcf);
    free(s->json);
    free(s);
}

static av_node *node_new(mt_avro_schema *s, av_type type)
{
    if (s->nnodes == s->capnodes) {
        size_t cap = s->capnodes ? s->capnodes * 2 : 32;
        av_node **p = realloc(s->nodes, cap * sizeof *p);
        if (!p)
            return NULL;
        s->nodes = p;
        s->capnodes = cap;
    }
    av_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->type = type;
    n->null_branch = -1;
    s->nodes[s->nnodes++] = n;
    return n;
}

/* Avro names: [A-Za-z_][A-Za-z0-9_]*; full names are dot-separated names. */
static int valid_name(const char *p, size_t len)
{
    if (len == 0 || !((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z') || p[0] == '_'))
        return 0;
    for (size_t i = 1; i < len; i++) {
        char c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

static int valid_fullname(const char *p)
{
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!valid_name(p, len))
            return 0;
        if (!dot)
            return 1;
        p = dot + 1;
    }
}

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static av_node *find_named(const mt_avro_schema *s, const char *fullname)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (s->nodes[i]->fullname && strcmp(s->nodes[i]->fullname, fullname) == 0)
            return s->nodes[i];
    return NULL;
}

typedef struct parse_ctx {
    mt_avro_schema *s;
    mt_errbuf *eb;
    int validate_defaults;
    int depth;
} parse_ctx;

static mt_err parse_type(parse_ctx *c, const json_t *j, const char *ns, av_node **out);

/* Resolves a name string (primitive or reference) in namespace ns. */
static mt_err resolve_name(parse_ctx *c, const char *name, const char *ns, av_node **out)
{
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++) {
        if (strcmp(name, primitives[i].name) == 0) {
            *out = node_new(c->s, primitives[i].type);
            return *out ? MT_OK : mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
        }
    }
    av_node *n = NULL;
    if (!strchr(name, '.') && ns && *ns) {
        char full[512];
        int w = snprintf(full, sizeof full, "%s.%s", ns, name);
        if (w > 0 && (size_t)w < sizeof full)
            n = find_named(c->s, full);
    }
    if (!n)
        n = find_named(c->s, name);
    if (!n)
        return mt_fail(c->eb, MT_ERR_PARSE,
                       "schema refers to unknown type \"%s\" (namespace \"%s\"); define a named "
                       "type before using it by name",
                       name, ns ? ns : "");
    *out = n;
    return MT_OK;
}

/* Computes the full name of a named type and the namespace its children inherit. */
static mt_err named_fullname(parse_ctx *c, const json_t *j, const char *ns, char **full)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!name)
        return mt_fail(c->eb, MT_ERR_PARSE, "named type without a string \"name\"");
    const json_t *jns = json_object_get(j, "namespace");
    if (jns && !json_is_string(jns) && !json_is_null(jns))
        return mt_fail(c->eb, MT_ERR_PARSE, "type \"%s\": \"namespace\" must be a string", name);
    const char *space = ns;
    if (jns)
        space = json_string_value(jns); /* "" or null: the null namespace */
    size_t nlen = strlen(name), slen = space ? strlen(space) : 0;
    char *f = malloc(nlen + slen + 2);
    if (!f)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
    if (strchr(name, '.') || slen == 0) {
        memcpy(f, name, nlen + 1);
    } else {
        memcpy(f, space, slen);
        f[slen] = '.';
        memcpy(f + slen + 1, name, nlen + 1);
    }
    if (!valid_fullname(f)) {
        mt_fail(c->eb, MT_ERR_PARSE,
                "invalid Avro name \"%s\" (names match [A-Za-z_][A-Za-z0-9_]*)", f);
        free(f);
        return MT_ERR_PARSE;
    }
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++) {
        if (strcmp(f, primitives[i].name) == 0) {
            mt_fail(c->eb, MT_ERR_PARSE, "named type may not be called \"%s\"", f);
            free(f);
            return MT_ERR_PARSE;
        }
    }
    if (find_named(c->s, f)) {
        mt_fail(c->eb, MT_ERR_PARSE, "type \"%s\" is defined twice; refer to it by name", f);
        free(f);
        return MT_ERR_PARSE;
    }
    *full = f;
    return MT_OK;
}

/* The namespace a named type's children inherit: its full name minus the last part. */
static mt_err child_ns(parse_ctx *c, const char *fullname, char **out)
{
    const char *dot = strrchr(fullname, '.');
    size_t len = dot ? (size_t)(dot - fullname) : 0;
    char *ns = malloc(len + 1);
    if (!ns)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
    memcpy(ns, fullname, len);
    ns[len] = '\0';
    *out = ns;
    return MT_OK;
}

static mt_err parse_record(parse_ctx *c, const json_t *j, const char *ns, av_node **out)
{
    char *cns = NULL;
    av_node *n = node_new(c->s, AV_RECORD);
    if (!n)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
    mt_err err = named_fullname(c, j, ns, &n->fullname);
    if (err)
        return err;
    const json_t *fields = json_object_get(j, "fields");
    if (!json_is_array(fields))
        return mt_fail(c->eb, MT_ERR_PARSE, "record \"%s\" needs a \"fields\" array", n->fullname);
    err = child_ns(c, n->fullname, &cns);
    if (err)
        return err;
    size_t nf = json_array_size(fields);
    n->fields = calloc(nf ? nf : 1, sizeof *n->fields);
    if (!n->fields) {
        err = mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
        goto fail;
    }
    for (size_t i = 0; i < nf; i++) {
        const json_t *f = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(f, "name"));
        if (!json_is_object(f) || !fname || !valid_name(fname, strlen(fname))) {
            err = mt_fail(c->eb, MT_ERR_PARSE, "record \"%s\": field %zu needs a valid \"name\"",
                          n->fullname, i);
            goto fail;
        }
        for (size_t k = 0; k < n->n; k++) {
            if (strcmp(n->fields[k].name, fname) == 0) {
                err = mt_fail(c->eb, MT_ERR_PARSE, "record \"%s\": duplicate field \"%s\"",
                              n->fullname, fname);
                goto fail;
            }
        }
        av_field *af = &n->fields[n->n];
        af->name = str_dup(fname);
        af->name_len = strlen(fname);
        if (!af->name) {
            err = mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
            goto fail;
        }
        n->n++; /* counted now so node_free releases the name on failure */
        const json_t *ft = json_object_get(f, "type");
        if (!ft) {
            err =
                mt_fail(c->eb, MT_ERR_PARSE, "field \"%s.%s\" has no \"type\"", n->fullname, fname);
            goto fail;
        }
        err = parse_type(c, ft, cns, &af->type);
        if (err)
            goto fail;
        const json_t *def = json_object_get(f, "default");
        if (def)
            af->def = json_incref((json_t *)def);
    }
    *out = n;
    free(cns);
    return MT_OK;
fail:
    free(cns);
    return err;
}

static mt_err parse_enum(parse_ctx *c, const json_t *j, const char *ns, av_node **out)
{
    av_node *n = node_new(c->s, AV_ENUM);
    if (!n)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
    mt_err err = named_fullname(c, j, ns, &n->fullname);
    if (err)
        return err;
    const json_t *syms = json_object_get(j, "symbols");
    if (!json_is_array(syms))
        return mt_fail(c->eb, MT_ERR_PARSE, "enum \"%s\" needs a \"symbols\" array", n->fullname);
    size_t ns_ = json_array_size(syms);
    n->symbols = calloc(ns_ ? ns_ : 1, sizeof *n->symbols);
    n->symlens = calloc(ns_ ? ns_ : 1, sizeof *n->symlens);
    if (!n->symbols || !n->symlens)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
    for (size_t i = 0; i < ns_; i++) {
        const char *sym = json_string_value(json_array_get(syms, i));
        if (!sym || !valid_name(sym, strlen(sym)))
            return mt_fail(c->eb, MT_ERR_PARSE, "enum \"%s\": symbol %zu is not a valid name",
                           n->fullname, i);
        for (size_t k = 0; k < n->n; k++)
            if (strcmp(n->symbols[k], sym) == 0)
                return mt_fail(c->eb, MT_ERR_PARSE, "enum \"%s\": duplicate symbol \"%s\"",
                               n->fullname, sym);
        n->symbols[n->n] = str_dup(sym);
        n->symlens[n->n] = strlen(sym);
        if (!n->symbols[n->n])
            return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
        n->n++;
    }
    *out = n;
    return MT_OK;
}

static mt_err parse_fixed(parse_ctx *c, const json_t *j, const char *ns, av_node **out)
{
    av_node *n = node_new(c->s, AV_FIXED);
    if (!n)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
    mt_err err = named_fullname(c, j, ns, &n->fullname);
    if (err)
        return err;
    const json_t *size = json_object_get(j, "size");
    /* A fixed larger than one string may be is a schema mistake, not a need. */
    if (!json_is_integer(size) || json_integer_value(size) < 0 ||
        json_integer_value(size) > (json_int_t)MT_AVRO_MAX_LENGTH)
        return mt_fail(c->eb, MT_ERR_PARSE, "fixed \"%s\" needs an integer \"size\" in 0..%u",
                       n->fullname, MT_AVRO_MAX_LENGTH);
    n->n = (size_t)json_integer_value(size);
    *out = n;
    return MT_OK;
}

static mt_err parse_union(parse_ctx *c, const json_t *j, const char *ns, av_node **out)
{
    av_node *n = node_new(c->s, AV_UNION);
    if (!n)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
    size_t nb = json_array_size(j);
    n->branches = calloc(nb ? nb : 1, sizeof *n->branches);
    if (!n->branches)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
    for (size_t i = 0; i < nb; i++) {
        av_node *b = NULL;
        mt_err err = parse_type(c, json_array_get(j, i), ns, &b);
        if (err)
            return err;
        if (b->type == AV_UNION)
            return mt_fail(c->eb, MT_ERR_PARSE, "a union may not directly contain a union");
        for (size_t k = 0; k < i; k++)
            if (strcmp(av_type_name(n->branches[k]), av_type_name(b)) == 0)
                return mt_fail(c->eb, MT_ERR_PARSE, "union has two branches of type \"%s\"",
                               av_type_name(b));
        if (b->type == AV_NULL)
            n->null_branch = (int)i;
        n->branches[i] = b;
        n->n++;
    }
    n->nullable = (n->n == 2 && n->null_branch >= 0);
    *out = n;
    return MT_OK;
}

static mt_err parse_type(parse_ctx *c, const json_t *j, const char *ns, av_node **out)
{
    mt_err err;
    /* jansson already bounds JSON nesting; this bounds our own recursion. */
    if (++c->depth > 256) {
        err = mt_fail(c->eb, MT_ERR_PARSE, "schema nests deeper than 256 levels");
        goto done;
    }
    if (json_is_string(j)) {
        err = resolve_name(c, json_string_value(j), ns, out);
    } else if (json_is_array(j)) {
        err = parse_union(c, j, ns, out);
    } else if (json_is_object(j)) {
        const json_t *t = json_object_get(j, "type");
        const char *ts = json_string_value(t);
        if (!t) {
            err = mt_fail(c->eb, MT_ERR_PARSE, "schema object has no \"type\"");
        } else if (!ts) {
            err = parse_type(c, t, ns, out); /* {"type": {...}} or {"type": [...]} */
        } else if (strcmp(ts, "record") == 0 || strcmp(ts, "error") == 0) {
            err = parse_record(c, j, ns, out);
        } else if (strcmp(ts, "enum") == 0) {
            err = parse_enum(c, j, ns, out);
        } else if (strcmp(ts, "fixed") == 0) {
            err = parse_fixed(c, j, ns, out);
        } else if (strcmp(ts, "array") == 0 || strcmp(ts, "map") == 0) {
            int is_array = ts[0] == 'a';
            const json_t *it = json_object_get(j, is_array ? "items" : "values");
            av_node *n = node_new(c->s, is_array ? AV_ARRAY : AV_MAP);
            if (!n)
                err = mt_fail(c->eb, MT_ERR_NOMEM, "out of memory parsing schema");
            else if (!it)
                err = mt_fail(c->eb, MT_ERR_PARSE, "%s schema without \"%s\"", ts,
                              is_array ? "items" : "values");
            else
                err = parse_type(c, it, ns, &n->items);
            if (!err)
                *out = n;
        } else {
            /* A primitive with attributes (e.g. logicalType) or a named reference. */
            err = resolve_name(c, ts, ns, out);
        }
    } else {
        err = mt_fail(c->eb, MT_ERR_PARSE, "schema must be a string, object or array");
    }
done:
    c->depth--;
    return err;
}

/* ---- minimal encoded sizes ------------------------------------------------ */

static size_t min_size(av_node *n)
{
    if (n->min_size || n->sizing)
        return n->min_size; /* a recursive reference contributes 0: still a lower bound */
    size_t m = 0;
    n->sizing = 1;
    switch (n->type) {
    case AV_NULL:
        m = 0;
        break;
    case AV_FLOAT:
        m = 4;
        break;
    case AV_DOUBLE:
        m = 8;
        break;
    case AV_FIXED:
        m = n->n;
        break;
    case AV_BOOLEAN:
    case AV_INT:
    case AV_LONG:
    case AV_BYTES:
    case AV_STRING:
    case AV_ENUM:
    case AV_ARRAY:
    case AV_MAP:
        m = 1;
        break;
    case AV_RECORD:
        for (size_t i = 0; i < n->n; i++) {
            size_t f = min_size(n->fields[i].type);
            m = (m > SIZE_MAX - f) ? SIZE_MAX : m + f;
        }
        break;
    case AV_UNION: {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < n->n; i++) {
            size_t b = min_size(n->branches[i]);
            if (b < best)
                best = b;
        }
        m = (n->n == 0 || best == SIZE_MAX) ? 1 : best + 1;
        break;
    }
    }
    n->sizing = 0;
    n->min_size = m;
    return m;
}

/* ---- Parsing Canonical Form ----------------------------------------------- */

typedef struct pcf_ctx {
    mt_buf *out;
    const av_node **seen; /* named types already written in full */
    size_t nseen, capseen;
} pcf_ctx;

static mt_err put_str(mt_buf *b, const char *s)
{
    return mt_buf_append(b, s, strlen(s));
}

/* Names, symbols and type names are validated to [A-Za-z0-9_.], so quoting
 * needs no escaping. */
static mt_err put_quoted(mt_buf *b, const char *s)
{
    mt_err err = mt_buf_append_byte(b, '"');
    if (!err)
        err = put_str(b, s);
    if (!err)
        err = mt_buf_append_byte(b, '"');
    return err;
}

static mt_err pcf_write(pcf_ctx *c, const av_node *n)
{
    mt_err err = MT_OK;
    mt_buf *b = c->out;
    if (n->fullname) {
        for (size_t i = 0; i < c->nseen; i++)
            if (c->seen[i] == n)
                return put_quoted(b, n->fullname);
        if (c->nseen == c->capseen) {
            size_t cap = c->capseen ? c->capseen * 2 : 16;
            const av_node **p = realloc(c->seen, cap * sizeof *p);
            if (!p)
                return MT_ERR_NOMEM;
            c->seen = p;
            c->capseen = cap;
        }
        c->seen[c->nseen++] = n;
    }
    switch (n->type) {
    case AV_NULL:
    case AV_BOOLEAN:
    case AV_INT:
    case AV_LONG:
    case AV_FLOAT:
    case AV_DOUBLE:
    case AV_BYTES:
    case AV_STRING:
        return put_quoted(b, av_type_name(n));
    case AV_RECORD:
        if ((err = put_str(b, "{\"name\":")) || (err = put_quoted(b, n->fullname)) ||
            (err = put_str(b, ",\"type\":\"record\",\"fields\":[")))
            return err;
        for (size_t i = 0; i < n->n; i++) {
            if ((i && (err = mt_buf_append_byte(b, ','))) || (err = put_str(b, "{\"name\":")) ||
                (err = put_quoted(b, n->fields[i].name)) || (err = put_str(b, ",\"type\":")) ||
                (err = pcf_write(c, n->fields[i].type)) || (err = mt_buf_append_byte(b, '}')))
                return err;
        }
        return put_str(b, "]}");
    case AV_ENUM:
        if ((err = put_str(b, "{\"name\":")) || (err = put_quoted(b, n->fullname)) ||
            (err = put_str(b, ",\"type\":\"enum\",\"symbols\":[")))
            return err;
        for (size_t i = 0; i < n->n; i++)
            if ((i && (err = mt_buf_append_byte(b, ','))) || (err = put_quoted(b, n->symbols[i])))
                return err;
        return put_str(b, "]}");
    case AV_FIXED: {
        char num[32];
        snprintf(num, sizeof num, "%zu", n->n);
        if ((err = put_str(b, "{\"name\":")) || (err = put_quoted(b, n->fullname)) ||
            (err = put_str(b, ",\"type\":\"fixed\",\"size\":")) || (err = put_str(b, num)))
            return err;
        return mt_buf_append_byte(b, '}');
    }
    case AV_ARRAY:
    case AV_MAP:
        if ((err = put_str(b, n->type == AV_ARRAY ? "{\"type\":\"array\",\"items\":"
                                                  : "{\"type\":\"map\",\"values\":")) ||
            (err = pcf_write(c, n->items)))
            return err;
        return mt_buf_append_byte(b, '}');
    case AV_UNION:
        if ((err = mt_buf_append_byte(b, '[')))
            return err;
        for (size_t i = 0; i < n->n; i++)
            if ((i && (err = mt_buf_append_byte(b, ','))) || (err = pcf_write(c, n->branches[i])))
                return err;
        return mt_buf_append_byte(b, ']');
    }
    return MT_ERR_INVALID_ARG;
}

static mt_err pcf_of(const av_node *root, char **out, mt_errbuf *eb)
{
    mt_buf b = MT_BUF_INIT;
    pcf_ctx c = {&b, NULL, 0, 0};
    mt_err err = pcf_write(&c, root);
    if (!err)
        err = mt_buf_append_byte(&b, '\0');
    free(c.seen);
    if (err) {
        mt_buf_free(&b);
        return mt_fail(eb, err, "cannot build Parsing Canonical Form: %s", mt_strerror(err));
    }
    *out = (char *)b.data;
    return MT_OK;
}

/* ---- schema objects ------------------------------------------------------- */

static mt_err schema_build(const char *schema_json, int validate_defaults, mt_avro_schema **out,
                           mt_errbuf *eb)
{
    mt_err err;
    json_error_t jerr;
    json_t *j = NULL;
    mt_avro_schema *s = calloc(1, sizeof *s);
    if (!s)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory parsing schema");
    if (!schema_json) {
        err = mt_fail(eb, MT_ERR_INVALID_ARG, "schema text is NULL");
        goto fail;
    }
    j = json_loads(schema_json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        err = mt_fail(eb, MT_ERR_PARSE, "schema is not valid JSON: %s (line %d, column %d)",
                      jerr.text, jerr.line, jerr.column);
        goto fail;
    }
    parse_ctx c = {s, eb, validate_defaults, 0};
    err = parse_type(&c, j, "", &s->root);
    if (err)
        goto fail;
    for (size_t i = 0; i < s->nnodes; i++)
        min_size(s->nodes[i]);
    if (validate_defaults) {
        mt_buf scratch = MT_BUF_INIT;
        for (size_t i = 0; i < s->nnodes && !err; i++) {
            const av_node *n = s->nodes[i];
            for (size_t k = 0; n->type == AV_RECORD && k < n->n && !err; k++) {
                if (!n->fields[k].def)
                    continue;
                mt_errbuf inner;
                mt_buf_reset(&scratch);
                if (av_encode_value(n->fields[k].type, n->fields[k].def, 1, &scratch, &inner))
                    err = mt_fail(eb, MT_ERR_PARSE, "default of field \"%s.%s\" is invalid: %s",
                                  n->fullname, n->fields[k].name, inner.msg);
            }
        }
        mt_buf_free(&scratch);
        if (err)
            goto fail;
    }
    err = pcf_of(s->root, &s->pcf, eb);
    if (err)
        goto fail;
    s->fp = mt_avro_crc64(s->pcf, strlen(s->pcf));
    s->name = str_dup(av_type_name(s->root));
    s->json = str_dup(schema_json);
    if (!s->name || !s->json) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory parsing schema");
        goto fail;
    }
    json_decref(j);
    *out = s;
    return MT_OK;
fail:
    json_decref(j);
    mt_avro_schema_free(s);
    return err;
}

mt_err mt_avro_schema_parse(const char *schema_json, mt_avro_schema **out, mt_errbuf *eb)
{
    if (!out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_avro_schema_parse: out is NULL");
    *out = NULL;
    return schema_build(schema_json, 1, out, eb);
}

mt_err mt_avro_parsing_canonical_form(const char *schema_json, char **out, mt_errbuf *eb)
{
    if (!out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_avro_parsing_canonical_form: out is NULL");
    *out = NULL;
    mt_avro_schema *s = NULL;
    mt_err err = schema_build(schema_json, 0, &s, eb);
    if (err)
        return err;
    *out = s->pcf;
    s->pcf = NULL;
    mt_avro_schema_free(s);
    return MT_OK;
}

const char *mt_avro_schema_name(const mt_avro_schema *s)
{
    return s->name;
}
uint64_t mt_avro_schema_fingerprint(const mt_avro_schema *s)
{
    return s->fp;
}
const char *mt_avro_schema_canonical(const mt_avro_schema *s)
{
    return s->pcf;
}
const char *mt_avro_schema_json(const mt_avro_schema *s)
{
    return s->json;
}

/* ---- registry ------------------------------------------------------------- */

static mt_err read_file(const char *path, char **out, mt_errbuf *eb)
{
    mt_err err = MT_OK;
    char *data = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mt_fail(eb, MT_ERR_IO, "cannot open schema file %s: %s", path, strerror(errno));
    data = malloc(AVSC_MAX_BYTES + 1);
    if (!data) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory reading %s", path);
        goto done;
    }
    len = fread(data, 1, AVSC_MAX_BYTES + 1, f);
    if (ferror(f)) {
        err = mt_fail(eb, MT_ERR_IO, "cannot read schema file %s: %s", path, strerror(errno));
        goto done;
    }
    if (len > AVSC_MAX_BYTES) {
        err = mt_fail(eb, MT_ERR_TOO_LARGE, "schema file %s is larger than %u bytes", path,
                      AVSC_MAX_BYTES);
        goto done;
    }
    data[len] = '\0';
    if (strlen(data) != len) {
        err = mt_fail(eb, MT_ERR_PARSE, "schema file %s contains a NUL byte", path);
        goto done;
    }
done:
    fclose(f);
    if (err) {
        free(data);
        return err;
    }
    *out = data;
    return MT_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Independent check with Avro C: a schema it rejects would break any tool
 * built on it (e.g. container files written with Avro C). */
static mt_err avro_c_check(const char *path, const char *text, mt_errbuf *eb)
{
    avro_schema_t as = NULL;
    if (avro_schema_from_json_length(text, strlen(text), &as) != 0)
        return mt_fail(eb, MT_ERR_PARSE, "Avro C rejects schema %s: %s", path, avro_strerror());
    avro_schema_decref(as);
    return MT_OK;
}

/* Lists the *.avsc files of dir, sorted by name into *names. A missing directory is
 * MT_ERR_NOT_FOUND (the caller decides whether that is an error). */
static mt_err list_avsc(const char *dir, char ***names, size_t *nnames, mt_errbuf *eb)
{
    *names = NULL;
    *nnames = 0;
    size_t cap = 0;
    DIR *d = opendir(dir);
    if (!d)
        return mt_fail(eb, errno == ENOENT ? MT_ERR_NOT_FOUND : MT_ERR_IO,
                       "cannot open schema directory %s: %s (set MT_SCHEMA_DIR)", dir,
                       strerror(errno));
    mt_err err = MT_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".avsc") != 0)
            continue;
        if (*nnames == cap) {
            size_t nc = cap ? cap * 2 : 8;
            char **p = realloc(*names, nc * sizeof *p);
            if (!p) {
                err = mt_fail(eb, MT_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            *names = p;
            cap = nc;
        }
        if (!((*names)[*nnames] = str_dup(de->d_name))) {
            err = mt_fail(eb, MT_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        (*nnames)++;
    }
    closedir(d);
    if (*nnames)
        qsort(*names, *nnames, sizeof **names, cmp_str);
    return err;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Reads, checks (Avro C too) and parses one top-level record schema file. */
static mt_err load_schema_file(const char *dir, const char *name, mt_avro_schema **out,
                               mt_errbuf *eb)
{
    char path[4096], *text = NULL;
    int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= sizeof path)
        return mt_fail(eb, MT_ERR_TOO_LARGE, "schema path too long: %s/%s", dir, name);
    mt_err err;
    if ((err = read_file(path, &text, eb)) || (err = avro_c_check(path, text, eb))) {
        free(text);
        return err;
    }
    mt_avro_schema *s = NULL;
    mt_errbuf inner;
    err = mt_avro_schema_parse(text, &s, &inner);
    free(text);
    if (err)
        return mt_fail(eb, err, "%s: %s", path, inner.msg);
    if (s->root->type != AV_RECORD) {
        err = mt_fail(eb, MT_ERR_PARSE, "%s: top-level schema must be a named record, not %s",
                      path, av_type_name(s->root));
        mt_avro_schema_free(s);
        return err;
    }
    *out = s;
    return MT_OK;
}

/* ---- schema evolution ------------------------------------------------------
 * A previous version (writer) of a current schema (reader) is accepted when
 * every datum it can write is readable by the reader under the rules of
 * docs/wire-format.md "Schema evolution": same kinds and names, record
 * fields matched by name with every writer field present in the reader and
 * every reader-only field carrying a default, enum symbols only added,
 * union branches only added, fixed sizes unchanged. No type promotion. */
static int same_branch(const av_node *w, const av_node *r)
{
    if (w->type != r->type)
        return 0;
    return !w->fullname || !r->fullname || strcmp(w->fullname, r->fullname) == 0;
}

static mt_err compat(const av_node *w, const av_node *r, const char *path, int depth,
                     mt_errbuf *eb)
{
    if (depth > MT_AVRO_MAX_DEPTH)
        return mt_fail(eb, MT_ERR_SCHEMA, "%s: nested deeper than %d", path, MT_AVRO_MAX_DEPTH);
    if (!same_branch(w, r))
        return mt_fail(eb, MT_ERR_SCHEMA, "%s: %s became %s (types never change)", path,
                       av_type_name(w), av_type_name(r));
    char sub[512];
    switch (w->type) {
    case AV_RECORD:
        for (size_t i = 0; i < w->n; i++) {
            const av_field *rf = NULL;
            for (size_t j = 0; j < r->n && !rf; j++)
                if (strcmp(w->fields[i].name, r->fields[j].name) == 0)
                    rf = &r->fields[j];
            snprintf(sub, sizeof sub, "%s.%s", path, w->fields[i].name);
            if (!rf)
                return mt_fail(eb, MT_ERR_SCHEMA, "%s: field removed (fields are never removed)",
                               sub);
            mt_err err = compat(w->fields[i].type, rf->type, sub, depth + 1, eb);
            if (err)
                return err;
        }
        for (size_t j = 0; j < r->n; j++) {
            size_t i = 0;
            while (i < w->n && strcmp(w->fields[i].name, r->fields[j].name) != 0)
                i++;
            if (i == w->n && !r->fields[j].def)
                return mt_fail(eb, MT_ERR_SCHEMA, "%s.%s: added without a default", path,
                               r->fields[j].name);
        }
        return MT_OK;
    case AV_ENUM:
        for (size_t i = 0; i < w->n; i++) {
            size_t j = 0;
            while (j < r->n && strcmp(w->symbols[i], r->symbols[j]) != 0)
                j++;
            if (j == r->n)
                return mt_fail(eb, MT_ERR_SCHEMA, "%s: enum symbol %s removed", path,
                               w->symbols[i]);
        }
        return MT_OK;
    case AV_ARRAY:
    case AV_MAP:
        snprintf(sub, sizeof sub, "%s[]", path);
        return compat(w->items, r->items, sub, depth + 1, eb);
    case AV_UNION:
        /* ["null", T] reads as a bare value, any other union as {"T": v}: a
         * pair that gains a branch changes form and cannot be resolved. */
        if (w->nullable != r->nullable)
            return mt_fail(eb, MT_ERR_SCHEMA, "%s: a [\"null\", T] union and a wider union "
                           "are not interchangeable", path);
        for (size_t i = 0; i < w->n; i++) {
            const av_node *rb = NULL;
            for (size_t j = 0; j < r->n && !rb; j++)
                if (same_branch(w->branches[i], r->branches[j]))
                    rb = r->branches[j];
            snprintf(sub, sizeof sub, "%s<%s>", path, av_type_name(w->branches[i]));
            if (!rb)
                return mt_fail(eb, MT_ERR_SCHEMA, "%s: union branch removed", sub);
            mt_err err = compat(w->branches[i], rb, sub, depth + 1, eb);
            if (err)
                return err;
        }
        return MT_OK;
    case AV_FIXED:
        if (w->n != r->n)
            return mt_fail(eb, MT_ERR_SCHEMA, "%s: fixed size %zu became %zu", path, w->n, r->n);
        return MT_OK;
    default:
        return MT_OK;
    }
}

mt_err mt_avro_schema_check_evolution(const mt_avro_schema *writer, const mt_avro_schema *reader,
                                      mt_errbuf *eb)
{
    if (!writer || !reader)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "schema evolution check: NULL schema");
    return compat(writer->root, reader->root, reader->name, 0, eb);
}

/* Loads the *.avsc files of dir/previous, each an earlier version of a current schema,
 * checked against it. No such directory: none. */
static mt_err load_previous(mt_avro_registry *reg, const char *dir, mt_errbuf *eb)
{
    char prev[4096], **names = NULL;
    size_t nnames = 0;
    if ((size_t)snprintf(prev, sizeof prev, "%s/" MT_AVRO_PREVIOUS_DIR, dir) >= sizeof prev)
        return mt_fail(eb, MT_ERR_TOO_LARGE, "schema path too long: %s", dir);
    mt_err err = list_avsc(prev, &names, &nnames, eb);
    if (err == MT_ERR_NOT_FOUND)
        return MT_OK;
    if (err == MT_OK && nnames && !(reg->previous = calloc(nnames, sizeof *reg->previous)))
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory loading schemas");
    for (size_t i = 0; err == MT_OK && i < nnames; i++) {
        mt_avro_schema *s = NULL;
        mt_errbuf inner;
        if ((err = load_schema_file(prev, names[i], &s, eb)) != MT_OK)
            break;
        const mt_avro_schema *cur = mt_avro_registry_find(reg, s->name);
        if (!cur)
            err = mt_fail(eb, MT_ERR_PARSE,
                          "%s/%s: earlier version of %s, which no current schema defines", prev,
                          names[i], s->name);
        else if (mt_avro_registry_find_fp(reg, s->fp) || mt_avro_registry_previous(reg, s->fp))
            err = mt_fail(eb, MT_ERR_PARSE, "%s/%s: fingerprint %016" PRIx64 " is loaded already",
                          prev, names[i], s->fp);
        else if (mt_avro_schema_check_evolution(s, cur, &inner) != MT_OK)
            err = mt_fail(eb, MT_ERR_SCHEMA,
                          "%s/%s: the current schema cannot read records of this version: %s",
                          prev, names[i], inner.msg);
        if (err) {
            mt_avro_schema_free(s);
            break;
        }
        reg->previous[reg->nprevious].writer = s;
        reg->previous[reg->nprevious].reader = cur;
        reg->nprevious++;
    }
    free_names(names, nnames);
    return err;
}

mt_err mt_avro_registry_load(const char *dir, mt_avro_registry **out, mt_errbuf *eb)
{
    mt_err err = MT_OK;
    char **names = NULL;
    size_t nnames = 0;
    mt_avro_registry *reg = NULL;

    if (!out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_avro_registry_load: out is NULL");
    *out = NULL;
    if (!dir)
        dir = getenv("MT_SCHEMA_DIR");
    if (!dir || !*dir)
        dir = MT_SCHEMA_DIR_DEFAULT;

    if ((err = list_avsc(dir, &names, &nnames, eb)) != MT_OK) {
        if (err == MT_ERR_NOT_FOUND)
            err = MT_ERR_IO;
        goto fail;
    }
    if (nnames == 0) {
        err = mt_fail(eb, MT_ERR_NOT_FOUND, "no *.avsc schema files in %s", dir);
        goto fail;
    }
    reg = calloc(1, sizeof *reg);
    if (!reg || !(reg->schemas = calloc(nnames, sizeof *reg->schemas))) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory loading schemas");
        goto fail;
    }
    for (size_t i = 0; i < nnames; i++) {
        mt_avro_schema *s = NULL;
        if ((err = load_schema_file(dir, names[i], &s, eb)) != MT_OK)
            goto fail;
        reg->schemas[reg->n++] = s;
        for (size_t k = 0; k + 1 < reg->n; k++) {
            if (strcmp(reg->schemas[k]->name, s->name) == 0 || reg->schemas[k]->fp == s->fp) {
                err = mt_fail(eb, MT_ERR_PARSE,
                              "%s/%s: record %s (fingerprint %016" PRIx64 ") duplicates %s", dir,
                              names[i], s->name, s->fp, reg->schemas[k]->name);
                goto fail;
            }
        }
    }
    if ((err = load_previous(reg, dir, eb)) != MT_OK)
        goto fail;
    *out = reg;
    reg = NULL;
fail:
    free_names(names, nnames);
    mt_avro_registry_free(reg);
    return err;
}

const mt_avro_version *mt_avro_registry_previous(const mt_avro_registry *reg, uint64_t fp)
{
    for (size_t i = 0; reg && i < reg->nprevious; i++)
        if (reg->previous[i].writer->fp == fp)
            return &reg->previous[i];
    return NULL;
}

size_t mt_avro_registry_previous_count(const mt_avro_registry *reg)
{
    return reg ? reg->nprevious : 0;
}

const mt_avro_version *mt_avro_registry_previous_at(const mt_avro_registry *reg, size_t i)
{
    return (reg && i < reg->nprevious) ? &reg->previous[i] : NULL;
}

void mt_avro_registry_free(mt_avro_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++)
        mt_avro_schema_free(reg->schemas[i]);
    for (size_t i = 0; i < reg->nprevious; i++)
        mt_avro_schema_free((mt_avro_schema *)reg->previous[i].writer);
    free(reg->schemas);
    free(reg->previous);
    free(reg);
}

const mt_avro_schema *mt_avro_registry_find(const mt_avro_registry *reg, const char *fullname)
{
    for (size_t i = 0; reg && fullname && i < reg->n; i++)
        if (strcmp(reg->schemas[i]->name, fullname) == 0)
            return reg->schemas[i];
    return NULL;
}

const mt_avro_schema *mt_avro_registry_find_fp(const mt_avro_registry *reg, uint64_t fp)
{
    for (size_t i = 0; reg && i < reg->n; i++)
        if (reg->schemas[i]->fp == fp)
            return reg->schemas[i];
    return NULL;
}

size_t mt_avro_registry_count(const mt_avro_registry *reg)
{
    return reg ? reg->n : 0;
}

const mt_avro_schema *mt_avro_registry_at(const mt_avro_registry *reg, size_t i)
{
    return (reg && i < reg->n) ? reg->schemas[i] : NULL;
}
