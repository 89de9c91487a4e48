/* Mcp-Param-* headers against tools/call arguments (mcp_params.h). */
#include "mcp_params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/strmap.h"
#include "mcp.h"

#define HEADER_PREFIX "Mcp-Param-"
#define HEADER_NAME_MAX 64

typedef struct decl {
    char header[sizeof HEADER_PREFIX + HEADER_NAME_MAX]; /* "Mcp-Param-NAME" */
    json_t *path;      /* property keys from arguments (array of strings) */
} decl;

typedef struct tool_decls {
    size_t n;
    decl *d;
} tool_decls;

struct mt_mcp_params {
    mt_strmap tools; /* tool name -> tool_decls */
};

mt_err mt_mcp_params_new(mt_mcp_params **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return MT_ERR_NOMEM;
    mt_strmap_init(&(*out)->tools, sizeof(tool_decls));
    return MT_OK;
}

static void decls_clear(tool_decls *t)
{
    for (size_t i = 0; i < t->n; i++)
        json_decref(t->d[i].path);
    free(t->d);
    t->d = NULL;
    t->n = 0;
}

void mt_mcp_params_free(mt_mcp_params *p)
{
    if (!p)
        return;
    size_t it = 0;
    void *v;
    while (mt_strmap_next(&p->tools, &it, &v))
        decls_clear(v);
    mt_strmap_free(&p->tools);
    free(p);
}

/* RFC 9110 token characters. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return true;
}

/* Collects the declarations on the `properties` chain of schema. */
static void walk(const json_t *schema, json_t *path, tool_decls *t, unsigned depth)
{
    const json_t *props = json_object_get(schema, "properties");
    if (!json_is_object(props) || depth >= MT_MCP_PARAMS_MAX_DEPTH)
        return;
    const char *key;
    const json_t *child;
    json_object_foreach((json_t *)props, key, child) {
        if (!json_is_object(child) || t->n >= MT_MCP_PARAMS_MAX_DECLS)
            continue;
        json_t *p = json_copy(path);
        if (!p || json_array_append_new(p, json_string(key)) != 0) {
            json_decref(p);
            continue;
        }
        const char *name = json_string_value(json_object_get(child, "x-mcp-header"));
        if (name && strlen(name) <= HEADER_NAME_MAX && is_token(name)) {
            decl *d = &t->d[t->n++];
            snprintf(d->header, sizeof d->header, HEADER_PREFIX "%s", name);
            d->path = json_incref(p);
        }
        walk(child, p, t, depth + 1);
        json_decref(p);
    }
}

size_t mt_mcp_params_learn(mt_mcp_params *p, const json_t *result)
{
    const json_t *tools = json_object_get(result, "tools");
    size_t learned = 0;
    for (size_t i = 0; i < json_array_size(tools); i++) {
        const json_t *tool = json_array_get(tools, i);
        const char *name = json_string_value(json_object_get(tool, "name"));
        if (!name)
            continue;
        bool created = false;
        if (!mt_strmap_find(&p->tools, name, strlen(name)) &&
            mt_strmap_count(&p->tools) >= MT_MCP_PARAMS_MAX_TOOLS)
            continue;
        tool_decls *t = mt_strmap_get(&p->tools, name, strlen(name), &created);
        if (!t)
            continue;
        decls_clear(t);
        if (!(t->d = calloc(MT_MCP_PARAMS_MAX_DECLS, sizeof *t->d)))
            continue;
        json_t *root = json_array();
        if (root)
            walk(json_object_get(tool, "inputSchema"), root, t, 0);
        json_decref(root);
        learned++;
    }
    return learned;
}

size_t mt_mcp_params_count(const mt_mcp_params *p, const char *tool)
{
    const tool_decls *t = tool ? mt_strmap_find(&p->tools, tool, strlen(tool)) : NULL;
    return t ? t->n : 0;
}

static bool decimal_equals(const char *text, double want)
{
    if (!*text)
        return false;
    errno = 0;
    char *end = NULL;
    double d = strtod(text, &end);
    return errno == 0 && end && *end == '\0' && isfinite(d) && d == want;
}

mt_err mt_mcp_params_check(const mt_mcp_params *p, const char *tool, const json_t *arguments,
                           mt_mcp_header_fn header, void *ctx, const char **cell,
                           mt_errbuf *eb)
{
    const tool_decls *t = tool ? mt_strmap_find(&p->tools, tool, strlen(tool)) : NULL;
    for (size_t i = 0; t && i < t->n; i++) {
        const decl *d = &t->d[i];
        const json_t *v = arguments;
        for (size_t k = 0; v && k < json_array_size(d->path); k++)
            v = json_object_get(v, json_string_value(json_array_get(d->path, k)));
        if (!v || json_is_null(v) || json_is_object(v) || json_is_array(v))
            continue; /* absent or not a primitive: no header expected */
        const char *h = header(ctx, d->header);
        if (!h) {
            if (cell)
                *cell = "param-header-missing";
            return mt_fail(eb, MT_ERR_PARSE,
                           "the body carries an argument tool %s mirrors in %s, but the "
                           "header is absent",
                           tool, d->header);
        }
        char *buf = NULL;
        const char *got = h, *payload;
        size_t plen, n;
        bool canonical = false;
        if (mt_mcp_b64_sentinel(h, strlen(h), &payload, &plen)) {
            if (!(buf = malloc(plen / 4 * 3 + 1)) ||
                !mt_mcp_b64_decode(payload, plen, buf, &n, &canonical) || !canonical ||
                memchr(buf, '\0', n)) {
                free(buf);
                if (cell)
                    *cell = "param-header-invalid-encoding";
                return mt_fail(eb, MT_ERR_PARSE,
                               "the %s header carries an invalid Base64 sentinel value",
                               d->header);
            }
            buf[n] = '\0';
            got = buf;
        }
        bool same;
        char num[64];
        if (json_is_string(v)) {
            same = strcmp(got, json_string_value(v)) == 0;
        } else if (json_is_boolean(v)) {
            same = strcmp(got, json_is_true(v) ? "true" : "false") == 0;
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            same = strcmp(got, num) == 0 || decimal_equals(got, (double)json_integer_value(v));
        } else {
            same = decimal_equals(got, json_real_value(v));
        }
        free(buf);
        if (!same) {
            if (cell)
                *cell = "param-header-mismatch";
            return mt_fail(eb, MT_ERR_PARSE,
                           "the %s header disagrees with the argument of tool %s it mirrors",
                           d->header, tool);
        }
    }
    return MT_OK;
}
