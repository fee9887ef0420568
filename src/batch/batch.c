/*
 * batch.c - from command-line inputs to a safe plan, and claims on outputs.
 *
 * This is where the failures samsep exists to prevent are made impossible:
 *
 *  - Feedback loops. Before anything is created, the output folder's
 *    identity chain (st_dev, st_ino of the folder, or of its nearest existing
 *    ancestor, and of every ancestor up to the root, walked through "..") is
 *    compared with each input folder's chain. Equal, inside or containing is
 *    refused. Identities, not strings, so symlinks, "..", trailing slashes,
 *    bind mounts and case-insensitive names cannot hide a collision. Files
 *    named on the command line are not scanned, so their own folder may be
 *    the output folder (outputs beside the inputs).
 *  - Inputs destroyed. An output path that is (st_dev, st_ino) one of the
 *    plan's files, which only files named on the command line and links can
 *    be, is refused, unless samsep's tags say it is an earlier output.
 *  - Own outputs as inputs. A file is skipped when its stem ends in one of
 *    samsep's suffixes (compared case-insensitively at the end of the stem
 *    only: no substring rule), or when its tags say samsep wrote it, which
 *    survives renaming. samsep's temporaries and lock files are hidden files
 *    and hidden files are never inputs; their names fit whenever the
 *    output's name fits (samsep_hidden_key).
 *  - Duplicates. Each source is planned once, by (st_dev, st_ino).
 *  - Name clashes. Inputs that would write the same output name all get
 *    their source extension in the name, so the result does not depend on
 *    the order of the inputs.
 *  - Double work. An item's outputs are "current" when both exist and their
 *    provenance names the same source identity (device, inode, size, mtime)
 *    and the same settings (provenance.c); such items are skipped unless
 *    overwriting.
 *    Processing takes an fcntl lock on a per-output lock file, so any number
 *    of processes, on one host or over NFS, share a folder without doing an
 *    item twice.
 *
 * Planning reads headers and tags only; it creates nothing. Folders are
 * scanned in name order so plans (and shards) are deterministic. Folders of
 * 100 000 recordings are planned in O(n log n): identities are hashed, names
 * compared by sorting, never pairwise. A claim makes the item's output
 * folder; releasing it removes the folders it made if they are still empty,
 * so a failed input leaves no empty folder.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio/audio.h"
#include "batch/provenance.h"
#include "core/internal.h"

#define MAX_DEPTH 512 /* ancestors walked; deeper trees are refused */
#define LOCK_SUFFIX ".samsep-lock"

typedef struct ident {
    dev_t dev;
    ino_t ino;
} ident;

typedef struct chain {
    ident id[MAX_DEPTH];
    int n;
} chain;

typedef struct item {
    samsep_item pub;
    char *input;
    char *rel;    /* path relative to its input root (shard key) */
    char *outsub; /* output folder of this item */
    char *stem;   /* output stem before disambiguation */
    char *srcext; /* source extension without the dot, "" if none */
    char *target, *residual, *reason, *provenance;
    const char *ext; /* output extension */
    ident id;
    int has_id; /* id is set (the file could be stat'ed) */
    int named;  /* target/residual computed */
    int prompt; /* index of its prompt; -1: the input alone */
} item;

/* The samsep temporaries found in one output folder, sorted. */
typedef struct tmplist {
    char *dir;
    char **names;
    int n;
} tmplist;

struct samsep_batch {
    item *items;
    int n, cap;
    char *outdir;
    char *settings;
    int overwrite;
    tmplist temps;  /* of the folder of the last claim */
    int n_prompts;  /* 1: a plan as samsep_batch_plan makes */
    char **prompts; /* [n_prompts] when n_prompts > 1 */
    char **parts;   /* their file-name parts */
};

struct samsep_claim {
    int fd;
    char *lock_path;
    int track;    /* temporary_track() slot of lock_path, or -1 */
    char *outsub; /* the item's output folder */
    char *made;   /* the outermost folder of outsub this claim created, or NULL */
};

static const char *const default_suffixes[] = { "_target", "_residual" };

/* ---- small helpers ------------------------------------------------------ */

static char *xstrdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int slash = la > 0 && a[la - 1] != '/';
    char *p = malloc(la + lb + 2);

    if (p != NULL) {
        memcpy(p, a, la);
        if (slash)
            p[la++] = '/';
        memcpy(p + la, b, lb + 1);
    }
    return p;
}

static char *fmt(const char *f, ...) SAMSEP_PRINTF(1, 2);

static char *fmt(const char *f, ...)
{
    va_list ap;
    char *p;
    int n;

    va_start(ap, f);
    n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    if (n < 0 || (p = malloc((size_t)n + 1)) == NULL)
        return NULL;
    va_start(ap, f);
    vsnprintf(p, (size_t)n + 1, f, ap);
    va_end(ap);
    return p;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s != NULL ? s + 1 : path;
}

/* Stem and extension of a file name ("a.b.wav" -> "a.b", "wav"). */
static void split_name(const char *name, char **stem, char **ext)
{
    const char *dot = strrchr(name, '.');

    if (dot == NULL || dot == name) {
        *stem = xstrdup(name);
        *ext = xstrdup("");
    } else {
        *stem = strndup(name, (size_t)(dot - name));
        *ext = xstrdup(dot + 1);
    }
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);

    return lx > 0 && ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

/* ---- identity chains ---------------------------------------------------- */

/* The identities of `dir` and all its ancestors, walking "..", which the
 * kernel resolves physically (a symlinked folder's ".." is its real parent). */
static int build_chain(const char *dir, chain *c)
{
    char path[PATH_MAX];
    struct stat st, up;
    size_t len;

    c->n = 0;
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -1;
    if (stat(path, &st) != 0)
        return -1;
    for (;;) {
        c->id[c->n].dev = st.st_dev;
        c->id[c->n].ino = st.st_ino;
        c->n++;
        len = strlen(path);
        if (len + 4 >= sizeof path || c->n >= MAX_DEPTH)
            return -1;
        memcpy(path + len, "/..", 4);
        if (stat(path, &up) != 0)
            return -1;
        if (up.st_dev == st.st_dev && up.st_ino == st.st_ino)
            return 0; /* the root is its own parent */
        st = up;
    }
}

static int chain_has(const chain *c, ident id, int from)
{
    int i;

    for (i = from; i < c->n; i++)
        if (c->id[i].dev == id.dev && c->id[i].ino == id.ino)
            return 1;
    return 0;
}

/* The nearest existing ancestor of a path that may not exist yet. */
static int nearest_existing(const char *path, char *out, size_t len, int *exists)
{
    struct stat st;
    char *slash;

    if (snprintf(out, len, "%s", path) >= (int)len)
        return -1;
    *exists = 1;
    for (;;) {
        if (stat(out, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                return -1;
            }
            return 0;
        }
        if (errno != ENOENT)
            return -1;
        *exists = 0;
        /* strip trailing slashes, then the last component */
        while (strlen(out) > 1 && out[strlen(out) - 1] == '/')
            out[strlen(out) - 1] = '\0';
        slash = strrchr(out, '/');
        if (slash == NULL)
            snprintf(out, len, ".");
        else if (slash == out)
            out[1] = '\0';
        else
            *slash = '\0';
    }
}

typedef struct outinfo {
    chain ch;   /* of the output folder or its nearest existing ancestor */
    int exists; /* ch.id[0] is the output folder itself */
} outinfo;

/* Refuse a collision between the output folder and input folder `in`
 * (`what` describes it for the message). */
static int check_collision(const outinfo *o, const char *outdir, const char *dir,
                           const char *what, const char *in, char *err, size_t errlen)
{
    chain *ci = malloc(sizeof *ci);
    ident in_id;
    int rc = SAMSEP_OK;

    if (ci == NULL)
        return SAMSEP_ERR_NOMEM;
    if (build_chain(dir, ci) != 0) {
        set_err(err, errlen, "%s \"%s\": cannot resolve: %s", what, in, strerror(errno));
        free(ci);
        return SAMSEP_ERR_IO;
    }
    in_id = ci->id[0];
    if (o->exists && o->ch.id[0].dev == in_id.dev && o->ch.id[0].ino == in_id.ino) {
        set_err(err, errlen,
                "refusing: output folder \"%s\" is the %s \"%s\" (the same folder, "
                "however it is named); outputs would be read back as inputs",
                outdir, what, in);
        rc = SAMSEP_ERR_UNSAFE;
    } else if (chain_has(&o->ch, in_id, 0)) {
        set_err(err, errlen,
                "refusing: output folder \"%s\" is inside the %s \"%s\"; outputs "
                "would be read back as inputs",
                outdir, what, in);
        rc = SAMSEP_ERR_UNSAFE;
    } else if (o->exists && chain_has(ci, o->ch.id[0], 1)) {
        set_err(err, errlen,
                "refusing: the %s \"%s\" is inside the output folder \"%s\"; outputs "
                "would be read back as inputs",
                what, in, outdir);
        rc = SAMSEP_ERR_UNSAFE;
    }
    free(ci);
    return rc;
}

/* ---- items -------------------------------------------------------------- */

static item *new_item(samsep_batch *b, const char *input, const char *rel,
                      const char *outsub)
{
    item *it;

    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        item *p = realloc(b->items, (size_t)cap * sizeof *p);

        if (p == NULL)
            return NULL;
        b->items = p;
        b->cap = cap;
    }
    it = &b->items[b->n];
    memset(it, 0, sizeof *it);
    it->prompt = b->n_prompts > 1 ? -1 : 0;
    it->input = xstrdup(input);
    it->rel = xstrdup(rel);
    it->outsub = xstrdup(outsub);
    if (it->input == NULL || it->rel == NULL || it->outsub == NULL) {
        free(it->input);
        free(it->rel);
        free(it->outsub);
        return NULL;
    }
    b->n++;
    return it;
}

static int set_action(item *it, int action, char *reason)
{
    if (reason == NULL)
        return SAMSEP_ERR_NOMEM;
    it->pub.action = action;
    free(it->reason);
    it->reason = reason;
    return SAMSEP_OK;
}

/* Outputs of `it` are complete and were made from this source with these
 * settings. */
static int outputs_current(const item *it, const char *provenance)
{
    samsep_file_info info;
    const char *paths[2];
    int i;

    paths[0] = it->target;
    paths[1] = it->residual;
    for (i = 0; i < 2; i++) {
        if (access(paths[i], F_OK) != 0)
            return 0;
        if (samsep_probe_file(paths[i], &info, NULL, 0) != SAMSEP_OK)
            return 0;
        if (!provenance_has_key(info.comment, provenance))
            return 0;
    }
    return 1;
}

/* ---- identities --------------------------------------------------------- */

/* An open-addressing hash from source identity to item index, so that
 * planning costs the same per file whether the batch has ten files or a
 * hundred thousand. */
typedef struct idmap {
    ident *key;
    int *val;   /* item index; -1 marks an empty slot */
    size_t cap; /* 0 or a power of two */
    size_t n;
} idmap;

static size_t id_hash(ident id)
{
    uint64_t h = (uint64_t)id.ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)id.dev;

    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return (size_t)h;
}

static int id_equal(ident a, ident b)
{
    return a.dev == b.dev && a.ino == b.ino;
}

/* The slot of `id`, or of the empty slot where it would go. */
static size_t idmap_slot(const idmap *m, ident id)
{
    size_t i = id_hash(id) & (m->cap - 1);

    while (m->val[i] >= 0 && !id_equal(m->key[i], id))
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* The item index stored under `id`, or -1. */
static int idmap_find(const idmap *m, ident id)
{
    return m->cap > 0 ? m->val[idmap_slot(m, id)] : -1;
}

static int idmap_grow(idmap *m)
{
    idmap g;
    size_t i;

    g.cap = m->cap ? m->cap * 2 : 256;
    g.n = m->n;
    g.key = malloc(g.cap * sizeof *g.key);
    g.val = malloc(g.cap * sizeof *g.val);
    if (g.key == NULL || g.val == NULL) {
        free(g.key);
        free(g.val);
        return SAMSEP_ERR_NOMEM;
    }
    for (i = 0; i < g.cap; i++)
        g.val[i] = -1;
    for (i = 0; i < m->cap; i++) {
        if (m->val[i] >= 0) {
            size_t j = idmap_slot(&g, m->key[i]);

            g.key[j] = m->key[i];
            g.val[j] = m->val[i];
        }
    }
    free(m->key);
    free(m->val);
    *m = g;
    return SAMSEP_OK;
}

/* Store `index` under `id`, unless `id` is there already (the first stays). */
static int idmap_add(idmap *m, ident id, int index)
{
    size_t i;

    if ((m->n + 1) * 2 > m->cap && idmap_grow(m) != SAMSEP_OK)
        return SAMSEP_ERR_NOMEM;
    i = idmap_slot(m, id);
    if (m->val[i] < 0) {
        m->key[i] = id;
        m->val[i] = index;
        m->n++;
    }
    return SAMSEP_OK;
}

static void idmap_free(idmap *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

typedef struct planner {
    const samsep_batch_config *cfg;
    samsep_batch *b;
    idmap seen; /* sources planned so far -> their first item */
    char *err;
    size_t errlen;
} planner;

/* The item's provenance: the source's identity and a hash of the settings
 * (with its prompt appended, in a several-prompt plan). */
static int set_provenance(item *it, const char *settings, const char *prompt,
                          const struct stat *st)
{
    char *all = prompt != NULL
                    ? fmt("%s;prompt=%s", settings != NULL ? settings : "", prompt)
                    : NULL;

    if (prompt != NULL && all == NULL)
        return SAMSEP_ERR_NOMEM;
    it->provenance = provenance_key(st, all != NULL ? all : settings);
    free(all);
    return it->provenance != NULL ? SAMSEP_OK : SAMSEP_ERR_NOMEM;
}

/* The processed item `index` becomes one item per prompt: itself for the
 * first, and copies after it for the others. */
static int split_prompts(planner *pl, int index, const struct stat *st)
{
    samsep_batch *b = pl->b;
    int k, rc;

    b->items[index].prompt = 0;
    rc = set_provenance(&b->items[index], pl->cfg->settings, b->prompts[0], st);
    for (k = 1; k < b->n_prompts && rc == SAMSEP_OK; k++) {
        item *c = new_item(b, b->items[index].input, b->items[index].rel,
                           b->items[index].outsub);
        const item *src = &b->items[index]; /* new_item may have moved it */

        if (c == NULL)
            return SAMSEP_ERR_NOMEM;
        c->stem = xstrdup(src->stem);
        c->srcext = xstrdup(src->srcext);
        if (c->stem == NULL || c->srcext == NULL)
            return SAMSEP_ERR_NOMEM;
        c->ext = src->ext;
        c->id = src->id;
        c->has_id = src->has_id;
        c->prompt = k;
        c->pub.action = SAMSEP_ACTION_PROCESS;
        rc = set_provenance(c, pl->cfg->settings, b->prompts[k], st);
    }
    return rc;
}

/* Decide what to do with one regular file. */
static int consider_file(planner *pl, const char *path, const char *rel,
                         const char *outsub, const struct stat *st, int explicit_arg)
{
    const samsep_batch_config *cfg = pl->cfg;
    samsep_batch *b = pl->b;
    samsep_file_info info;
    char why[SAMSEP_MSG_MAX];
    item *it = new_item(b, path, rel, outsub);
    int index = b->n - 1, first, i, rc;

    if (it == NULL)
        return SAMSEP_ERR_NOMEM;
    split_name(base_name(path), &it->stem, &it->srcext);
    if (it->stem == NULL || it->srcext == NULL)
        return SAMSEP_ERR_NOMEM;
    it->id.dev = st->st_dev;
    it->id.ino = st->st_ino;
    it->has_id = 1;

    if (base_name(path)[0] == '.')
        return set_action(it, SAMSEP_ACTION_SKIP, xstrdup("hidden file"));
    for (i = 0; i < 2 + cfg->n_skip_suffixes; i++) {
        const char *suf = i < 2 ? default_suffixes[i] : cfg->skip_suffixes[i - 2];

        if (ends_with_ci(it->stem, suf))
            return set_action(it, SAMSEP_ACTION_SKIP,
                              fmt("looks like a samsep output (name ends in %s)", suf));
    }
    first = idmap_find(&pl->seen, it->id);
    if (first >= 0)
        return set_action(it, SAMSEP_ACTION_SKIP,
                          fmt("same file as %s", b->items[first].input));
    rc = idmap_add(&pl->seen, it->id, index);
    if (rc != SAMSEP_OK)
        return rc;
    if (cfg->shard_count > 1 &&
        (int)(samsep_fnv1a(rel) % (uint64_t)cfg->shard_count) != cfg->shard_index - 1)
        return set_action(it, SAMSEP_ACTION_SKIP,
                          fmt("other shard (not %d/%d)", cfg->shard_index,
                              cfg->shard_count));
    if (st->st_size == 0) {
        if (explicit_arg || audio_known_extension(it->srcext))
            return set_action(it, SAMSEP_ACTION_FAIL, xstrdup("empty file (0 bytes)"));
        return set_action(it, SAMSEP_ACTION_SKIP, xstrdup("not audio (empty file)"));
    }
    rc = samsep_probe_file(path, &info, why, sizeof why);
    if (rc == SAMSEP_ERR_NOMEM)
        return rc;
    if (rc != SAMSEP_OK) {
        /* the probe's message starts with the path; keep the reason */
        const char *r = strncmp(why, path, strlen(path)) == 0 && why[strlen(path)] == ':'
                            ? why + strlen(path) + 2
                            : why;

        if (explicit_arg || audio_known_extension(it->srcext))
            return set_action(it, SAMSEP_ACTION_FAIL, xstrdup(r));
        return set_action(it, SAMSEP_ACTION_SKIP,
                          xstrdup("not audio (no decoder reads it)"));
    }
    if (provenance_by_samsep(info.software))
        return set_action(it, SAMSEP_ACTION_SKIP,
                          fmt("written by samsep (its tags say \"%s\")", info.software));
    it->ext = samsep_format_extension(
        cfg->format != SAMSEP_FORMAT_AUTO ? cfg->format : info.auto_format);
    it->pub.action = SAMSEP_ACTION_PROCESS;
    return b->n_prompts > 1 ? split_prompts(pl, index, st)
                            : set_provenance(it, cfg->settings, NULL, st);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int scan_dir(planner *pl, const char *dir, const char *rel, const char *outsub,
                    int depth)
{
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    int n = 0, cap = 0, i, rc = SAMSEP_OK;

    if (depth > 64) {
        set_err(pl->err, pl->errlen, "%s: folders nested too deep", dir);
        return SAMSEP_ERR_INVALID;
    }
    d = opendir(dir);
    if (d == NULL) {
        item *it = new_item(pl->b, dir, rel, outsub);

        if (it == NULL)
            return SAMSEP_ERR_NOMEM;
        return set_action(it, SAMSEP_ACTION_FAIL,
                          fmt("cannot read folder: %s", strerror(errno)));
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            char **p = realloc(names, (size_t)(cap = cap ? cap * 2 : 64) * sizeof *p);

            if (p == NULL) {
                rc = SAMSEP_ERR_NOMEM;
                break;
            }
            names = p;
        }
        if ((names[n] = strdup(e->d_name)) == NULL) {
            rc = SAMSEP_ERR_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (i = 0; i < n && rc == SAMSEP_OK; i++) {
        char *path = join(dir, names[i]);
        char *r = rel[0] ? join(rel, names[i]) : xstrdup(names[i]);
        struct stat st, lst;

        if (path == NULL || r == NULL) {
            rc = SAMSEP_ERR_NOMEM;
        } else if (stat(path, &st) != 0) {
            item *it = new_item(pl->b, path, r, outsub);

            rc = it == NULL ? SAMSEP_ERR_NOMEM
                            : set_action(it, SAMSEP_ACTION_SKIP,
                                         fmt("cannot stat: %s", strerror(errno)));
        } else if (S_ISDIR(st.st_mode)) {
            /* never follow a symlinked folder: it could lead back up */
            if (pl->cfg->recursive && names[i][0] != '.' && lstat(path, &lst) == 0 &&
                !S_ISLNK(lst.st_mode)) {
                char *sub = join(outsub, names[i]);

                rc = sub == NULL ? SAMSEP_ERR_NOMEM
                                 : scan_dir(pl, path, r, sub, depth + 1);
                free(sub);
            }
        } else if (S_ISREG(st.st_mode)) {
            rc = consider_file(pl, path, r, outsub, &st, 0);
        } else if (names[i][0] != '.') {
            item *it = new_item(pl->b, path, r, outsub);

            rc = it == NULL
                     ? SAMSEP_ERR_NOMEM
                     : set_action(it, SAMSEP_ACTION_SKIP, xstrdup("not a regular file"));
        }
        free(path);
        free(r);
    }
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Items in order of target name, and in input order among equal names. */
static int cmp_targets(const void *a, const void *b)
{
    const item *x = *(const item *const *)a, *y = *(const item *const *)b;
    int c = strcmp(x->target, y->target);

    return c != 0 ? c : (x > y) - (x < y);
}

/* Compute the names of the items at naming level `level` or above. */
static int name_level(samsep_batch *b, int level)
{
    int i;

    for (i = 0; i < b->n; i++) {
        item *it = &b->items[i];
        char tag[32 + SAMSEP_PROMPT_PART_MAX + 16] = "";

        if (it->pub.action != SAMSEP_ACTION_PROCESS || it->named < level)
            continue;
        if (it->named >= 2)
            snprintf(tag, sizeof tag, ".%s", it->srcext);
        if (it->named >= 3) {
            char key[64];

            snprintf(key, sizeof key, "%llu:%llu", (unsigned long long)it->id.dev,
                     (unsigned long long)it->id.ino);
            snprintf(tag + strlen(tag), sizeof tag - strlen(tag), "-%06llx",
                     (unsigned long long)(samsep_fnv1a(key) & 0xffffff));
        }
        if (b->n_prompts > 1) {
            size_t len = strlen(tag);

            snprintf(tag + len, sizeof tag - len, "_%s", b->parts[it->prompt]);
        }
        free(it->target);
        free(it->residual);
        it->target = fmt("%s/%s%s_target.%s", it->outsub, it->stem, tag, it->ext);
        it->residual = fmt("%s/%s%s_residual.%s", it->outsub, it->stem, tag, it->ext);
        if (it->target == NULL || it->residual == NULL)
            return SAMSEP_ERR_NOMEM;
        if (it->named == 0)
            it->named = 1;
    }
    return SAMSEP_OK;
}

/* Give every processed item its output names. Items that would share a name
 * all get their source extension in it ("a.wav_target.wav"); items that
 * still share one (the same file name in two input folders) also get a short
 * hash of their source identity, which is stable across runs and does not
 * depend on the order of the inputs; of items that share a name even then,
 * the first keeps it and the others fail. Equal names are found by sorting,
 * so a batch of n files is named in O(n log n). */
static int name_items(samsep_batch *b)
{
    item **by = malloc((size_t)(b->n > 0 ? b->n : 1) * sizeof *by);
    int i, j, m, level, rc = SAMSEP_OK;

    if (by == NULL)
        return SAMSEP_ERR_NOMEM;
    for (level = 0; level < 3 && rc == SAMSEP_OK; level++) {
        int clashes = 0;

        rc = name_level(b, level);
        for (i = m = 0; i < b->n && rc == SAMSEP_OK; i++)
            if (b->items[i].pub.action == SAMSEP_ACTION_PROCESS)
                by[m++] = &b->items[i];
        if (rc != SAMSEP_OK)
            break;
        qsort(by, (size_t)m, sizeof *by, cmp_targets);
        for (i = 0; i < m && rc == SAMSEP_OK; i = j) {
            for (j = i + 1;
                 j < m && strcmp(by[j]->target, by[i]->target) == 0 && rc == SAMSEP_OK;
                 j++) {
                if (level < 2) {
                    by[i]->named = by[j]->named = level + 2;
                    clashes++;
                } else {
                    rc = set_action(by[j], SAMSEP_ACTION_FAIL,
                                    fmt("its outputs would have the same names as "
                                        "those of %s",
                                        by[i]->input));
                }
            }
        }
        if (clashes == 0)
            break;
    }
    free(by);
    return rc;
}

/* An output whose name passes NAME_MAX could never be created: the item
 * fails with the reason, and the rest of the batch goes on. Its hidden
 * companions always fit when the name does (samsep_hidden_key). */
static int check_name_length(item *it)
{
    size_t lt = strlen(base_name(it->target)), lr = strlen(base_name(it->residual));
    size_t over = (lt > lr ? lt : lr);

    if (over <= SAMSEP_NAME_MAX)
        return SAMSEP_OK;
    return set_action(it, SAMSEP_ACTION_FAIL,
                      fmt("its output name \"%s\" would be %zu bytes long, more "
                          "than the %d bytes a file name may have (shorten the "
                          "input's name by %zu)",
                          base_name(lr >= lt ? it->residual : it->target), over,
                          SAMSEP_NAME_MAX, over - SAMSEP_NAME_MAX));
}

static int written_by_samsep(const char *path)
{
    samsep_file_info info;

    return samsep_probe_file(path, &info, NULL, 0) == SAMSEP_OK &&
           provenance_by_samsep(info.software);
}

/* Refuse a plan in which an output would replace one of the run's input
 * files: an output path that exists and is (device, inode) a file the plan
 * holds, whatever was decided for it. This can only happen to files named
 * on the command line (an output folder never meets a scanned folder) or
 * through links. A file whose tags say samsep wrote it is an earlier output
 * and is redone in place, as in any output folder. */
static int check_replaced_inputs(samsep_batch *b, char *err, size_t errlen)
{
    idmap all;
    int i, k, rc = SAMSEP_OK;

    memset(&all, 0, sizeof all);
    for (i = 0; i < b->n && rc == SAMSEP_OK; i++)
        if (b->items[i].has_id)
            rc = idmap_add(&all, b->items[i].id, i);
    for (i = 0; i < b->n && rc == SAMSEP_OK; i++) {
        const item *it = &b->items[i];

        for (k = 0; k < 2 && it->pub.action == SAMSEP_ACTION_PROCESS; k++) {
            const char *out = k == 0 ? it->target : it->residual;
            struct stat st;
            int j;

            if (stat(out, &st) != 0)
                continue;
            j = idmap_find(&all, (ident){ st.st_dev, st.st_ino });
            if (j < 0 || written_by_samsep(out))
                continue;
            set_err(err, errlen,
                    "refusing: the output \"%s\" would replace the input file "
                    "\"%s\" (the same file); choose another output folder",
                    out, b->items[j].input);
            rc = SAMSEP_ERR_UNSAFE;
            break;
        }
    }
    idmap_free(&all);
    return rc;
}

static void publish(samsep_batch *b)
{
    int i;

    for (i = 0; i < b->n; i++) {
        item *it = &b->items[i];

        it->pub.input = it->input;
        it->pub.reason = it->reason;
        it->pub.target = it->pub.action == SAMSEP_ACTION_PROCESS ||
                                 (it->reason != NULL && it->target != NULL)
                             ? it->target
                             : NULL;
        it->pub.residual = it->pub.target != NULL ? it->residual : NULL;
        it->pub.provenance = it->provenance;
        it->pub.prompt = b->n_prompts > 1 && it->prompt >= 0 ? b->prompts[it->prompt]
                                                             : NULL;
        it->pub.prompt_index = it->prompt;
    }
}

/* ---- prompts ------------------------------------------------------------ */

/* The prompt as a file-name part before any hash: ASCII letters (lowered)
 * and digits, every other run of bytes one '-' between them; *cut when it
 * had to stop at SAMSEP_PROMPT_PART_MAX bytes. */
static void prompt_base(const char *p, char *out, int *cut)
{
    size_t n = 0;
    int dash = 0;

    *cut = 0;
    for (; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9'))) {
            dash = n > 0;
            continue;
        }
        if (n + (size_t)dash + 1 > SAMSEP_PROMPT_PART_MAX) {
            *cut = 1;
            break;
        }
        if (dash)
            out[n++] = '-';
        out[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        dash = 0;
    }
    out[n] = '\0';
}

/* Copy the prompts into b and give each its file-name part (see
 * samsep_batch_plan_prompts); refuse prompts that would share one. */
static int set_prompts(samsep_batch *b, const char *const *prompts, int n, char *err,
                       size_t errlen)
{
    char(*base)[SAMSEP_PROMPT_PART_MAX + 1] = calloc((size_t)n, sizeof *base);
    int *cut = calloc((size_t)n, sizeof *cut);
    int i, j, rc = SAMSEP_OK;

    b->n_prompts = n;
    b->prompts = calloc((size_t)n, sizeof *b->prompts);
    b->parts = calloc((size_t)n, sizeof *b->parts);
    if (base == NULL || cut == NULL || b->prompts == NULL || b->parts == NULL)
        rc = SAMSEP_ERR_NOMEM;
    for (i = 0; i < n && rc == SAMSEP_OK; i++) {
        if ((b->prompts[i] = xstrdup(prompts[i])) == NULL)
            rc = SAMSEP_ERR_NOMEM;
        else
            prompt_base(prompts[i], base[i], &cut[i]);
    }
    for (i = 0; i < n && rc == SAMSEP_OK; i++) {
        int hash = cut[i] || base[i][0] == '\0';
        unsigned long long h = (unsigned long long)(samsep_fnv1a(prompts[i]) & 0xffffff);

        for (j = 0; j < n && !hash; j++)
            hash = j != i && strcmp(base[i], base[j]) == 0;
        b->parts[i] = !hash                ? xstrdup(base[i])
                      : base[i][0] != '\0' ? fmt("%s-%06llx", base[i], h)
                                           : fmt("%06llx", h);
        if (b->parts[i] == NULL)
            rc = SAMSEP_ERR_NOMEM;
    }
    for (i = 0; i < n && rc == SAMSEP_OK; i++)
        for (j = 0; j < i && rc == SAMSEP_OK; j++)
            if (strcmp(b->parts[i], b->parts[j]) == 0) {
                if (strcmp(prompts[i], prompts[j]) == 0)
                    set_err(err, errlen, "the prompt \"%s\" is given twice", prompts[i]);
                else
                    set_err(err, errlen,
                            "the prompts \"%s\" and \"%s\" would name "
                            "their outputs alike; reword one",
                            prompts[j], prompts[i]);
                rc = SAMSEP_ERR_INVALID;
            }
    free(base);
    free(cut);
    return rc;
}

int samsep_batch_plan(const samsep_batch_config *cfg, samsep_batch **out, char *err,
                      size_t errlen)
{
    return samsep_batch_plan_prompts(cfg, NULL, 1, out, err, errlen);
}

int samsep_batch_plan_prompts(const samsep_batch_config *cfg, const char *const *prompts,
                              int n_prompts, samsep_batch **out, char *err, size_t errlen)
{
    planner pl;
    outinfo *o = NULL;
    char near[PATH_MAX];
    samsep_batch *b;
    int i, rc = SAMSEP_OK;

    if (out != NULL)
        *out = NULL;
    if (cfg == NULL || out == NULL || cfg->outdir == NULL || cfg->outdir[0] == '\0' ||
        cfg->n_inputs < 1 || cfg->inputs == NULL || cfg->n_skip_suffixes < 0 ||
        n_prompts < 1 || n_prompts > SAMSEP_MAX_PROMPTS ||
        (n_prompts > 1 && prompts == NULL) ||
        (cfg->shard_count > 0 &&
         (cfg->shard_index < 1 || cfg->shard_index > cfg->shard_count))) {
        set_err(err, errlen, "batch: invalid configuration");
        return SAMSEP_ERR_INVALID;
    }
    b = calloc(1, sizeof *b);
    o = malloc(sizeof *o);
    if (b == NULL || o == NULL || (b->outdir = xstrdup(cfg->outdir)) == NULL ||
        (b->settings = xstrdup(cfg->settings != NULL ? cfg->settings : "")) == NULL) {
        free(o);
        samsep_batch_free(b);
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    b->overwrite = cfg->overwrite;
    b->n_prompts = 1;
    if (n_prompts > 1) {
        for (i = 0; i < n_prompts; i++)
            if (prompts[i] == NULL) {
                free(o);
                samsep_batch_free(b);
                set_err(err, errlen, "batch: prompt %d is missing", i + 1);
                return SAMSEP_ERR_INVALID;
            }
        rc = set_prompts(b, prompts, n_prompts, err, errlen);
        if (rc != SAMSEP_OK) {
            if (rc == SAMSEP_ERR_NOMEM)
                set_err(err, errlen, "out of memory");
            free(o);
            samsep_batch_free(b);
            return rc;
        }
    }
    memset(&pl, 0, sizeof pl);
    pl.cfg = cfg;
    pl.b = b;
    pl.err = err;
    pl.errlen = errlen;

    /* 1. the output folder's identity chain */
    if (nearest_existing(cfg->outdir, near, sizeof near, &o->exists) != 0 ||
        build_chain(near, &o->ch) != 0) {
        set_err(err, errlen, "output folder \"%s\": %s", cfg->outdir,
                errno == ENOTDIR ? "a file is in the way, not a folder"
                                 : strerror(errno));
        rc = SAMSEP_ERR_INVALID;
    }
    /* 2. every input folder against it, all before any scanning, so a
     * refusal happens before any work. Files named on the command line are
     * not scanned: an output folder beside or below them cannot loop (what
     * could destroy them is checked in 6). */
    for (i = 0; i < cfg->n_inputs && rc == SAMSEP_OK; i++) {
        const char *in = cfg->inputs[i];
        struct stat st;

        if (stat(in, &st) == 0 && S_ISDIR(st.st_mode))
            rc = check_collision(o, cfg->outdir, in, "input folder", in, err, errlen);
    }
    /* 3. discover and judge every file */
    for (i = 0; i < cfg->n_inputs && rc == SAMSEP_OK; i++) {
        const char *in = cfg->inputs[i];
        struct stat st;

        if (stat(in, &st) != 0) {
            item *it = new_item(b, in, base_name(in), cfg->outdir);

            rc = it == NULL ? SAMSEP_ERR_NOMEM
                            : set_action(it, SAMSEP_ACTION_FAIL,
                                         fmt("cannot open: %s", strerror(errno)));
        } else if (S_ISDIR(st.st_mode)) {
            rc = scan_dir(&pl, in, "", cfg->outdir, 0);
        } else if (S_ISREG(st.st_mode)) {
            rc = consider_file(&pl, in, base_name(in), cfg->outdir, &st, 1);
        } else {
            item *it = new_item(b, in, base_name(in), cfg->outdir);

            rc = it == NULL ? SAMSEP_ERR_NOMEM
                            : set_action(it, SAMSEP_ACTION_FAIL,
                                         xstrdup("not a regular file or folder"));
        }
    }
    /* 4. output names, 5. what is already done, 6. nothing an input. Every
     * output lies below the output folder: when that does not exist yet (a
     * first run), no output exists, and 5 and 6 need not look. */
    if (rc == SAMSEP_OK)
        rc = name_items(b);
    for (i = 0; i < b->n && rc == SAMSEP_OK; i++) {
        item *it = &b->items[i];

        if (it->pub.action != SAMSEP_ACTION_PROCESS)
            continue;
        rc = check_name_length(it);
        if (rc == SAMSEP_OK && it->pub.action == SAMSEP_ACTION_PROCESS && o->exists &&
            !cfg->overwrite && outputs_current(it, it->provenance))
            rc =
                set_action(it, SAMSEP_ACTION_SKIP, xstrdup("done (outputs are current)"));
    }
    if (rc == SAMSEP_OK && o->exists)
        rc = check_replaced_inputs(b, err, errlen);
    idmap_free(&pl.seen);
    free(o);
    if (rc != SAMSEP_OK) {
        if (rc == SAMSEP_ERR_NOMEM)
            set_err(err, errlen, "out of memory while planning");
        samsep_batch_free(b);
        return rc;
    }
    publish(b);
    *out = b;
    return SAMSEP_OK;
}

static void tmplist_free(tmplist *t)
{
    int i;

    for (i = 0; i < t->n; i++)
        free(t->names[i]);
    free(t->names);
    free(t->dir);
    memset(t, 0, sizeof *t);
}

void samsep_batch_free(samsep_batch *b)
{
    int i;

    if (b == NULL)
        return;
    for (i = 0; i < b->n; i++) {
        item *it = &b->items[i];

        free(it->input);
        free(it->rel);
        free(it->outsub);
        free(it->stem);
        free(it->srcext);
        free(it->target);
        free(it->residual);
        free(it->reason);
        free(it->provenance);
    }
    free(b->items);
    for (i = 0; i < b->n_prompts && b->prompts != NULL; i++) {
        free(b->prompts[i]);
        if (b->parts != NULL)
            free(b->parts[i]);
    }
    free(b->prompts);
    free(b->parts);
    tmplist_free(&b->temps);
    free(b->outdir);
    free(b->settings);
    free(b);
}

int samsep_batch_count(const samsep_batch *b)
{
    return b != NULL ? b->n : 0;
}

const samsep_item *samsep_batch_item(const samsep_batch *b, int index)
{
    if (b == NULL || index < 0 || index >= b->n)
        return NULL;
    return &b->items[index].pub;
}

/* ---- claims ------------------------------------------------------------- */

/* The outermost folder of `path` (path itself or an ancestor, found by
 * cutting at slashes) that does not exist yet, or NULL when path exists:
 * what samsep_make_dirs(path) is about to create. */
static char *first_missing(const char *path)
{
    char *p = xstrdup(path), *slash, *missing = NULL;
    struct stat st;

    if (p == NULL)
        return NULL;
    while (stat(p, &st) != 0 && errno == ENOENT) {
        free(missing);
        missing = xstrdup(p);
        slash = strrchr(p, '/');
        if (slash == NULL || slash == p)
            break;
        *slash = '\0';
    }
    free(p);
    return missing;
}

/* Remove the folders from `path` up to `made` (inclusive) that are empty: an
 * input that failed before writing anything leaves no empty output folder
 * behind. A folder holding anything (outputs, another process's lock) stays;
 * a process that finds its new folder gone makes it again (see the claim). */
static void remove_made(const char *path, const char *made)
{
    char *p, *slash;

    if (made == NULL || (p = xstrdup(path)) == NULL)
        return;
    while (rmdir(p) == 0 && strcmp(p, made) != 0 && strlen(p) > strlen(made) &&
           (slash = strrchr(p, '/')) != NULL)
        *slash = '\0';
    free(p);
}

/* List the temporaries in `dir`, once for a run of claims in one folder:
 * reading the folder at every claim would make a batch of n outputs in one
 * folder cost n^2. A temporary that appears after the listing belongs to a
 * claim that is still held or to a run that died since, which the next run
 * cleans up. */
static int tmplist_load(tmplist *t, const char *dir)
{
    DIR *d;
    struct dirent *e;
    int cap = 0;

    if (t->dir != NULL && strcmp(t->dir, dir) == 0)
        return SAMSEP_OK;
    tmplist_free(t);
    if ((t->dir = xstrdup(dir)) == NULL)
        return SAMSEP_ERR_NOMEM;
    if ((d = opendir(dir)) == NULL)
        return SAMSEP_OK; /* nothing to clean up */
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.' || strstr(e->d_name, AUDIO_TMP_MARKER) == NULL)
            continue;
        if (t->n == cap) {
            char **p = realloc(t->names, (size_t)(cap = cap ? cap * 2 : 16) * sizeof *p);

            if (p == NULL)
                break;
            t->names = p;
        }
        if ((t->names[t->n] = xstrdup(e->d_name)) == NULL)
            break;
        t->n++;
    }
    closedir(d);
    if (t->n > 0)
        qsort(t->names, (size_t)t->n, sizeof *t->names, cmp_names);
    return SAMSEP_OK;
}

/* Remove ".<key>.samsep-tmp-<pid>-<n>" for the item's two outputs. Only the
 * holder of an item's claim writes its temporaries, so while we hold it any
 * that exist were left by a run that died. */
static void remove_stale_temps(samsep_batch *b, const item *it)
{
    const char *names[2] = { base_name(it->target), base_name(it->residual) };
    tmplist *t = &b->temps;
    int k;

    if (tmplist_load(t, it->outsub) != SAMSEP_OK)
        return;
    for (k = 0; k < 2; k++) {
        char key[SAMSEP_HIDDEN_KEY_MAX + 1], prefix[SAMSEP_NAME_MAX + 1];
        size_t lp;
        int lo = 0, hi = t->n;

        samsep_hidden_key(names[k], key);
        lp = (size_t)snprintf(prefix, sizeof prefix, ".%s%s", key, AUDIO_TMP_MARKER);
        while (lo < hi) { /* the first name not below the prefix */
            int mid = lo + (hi - lo) / 2;

            if (strcmp(t->names[mid], prefix) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < t->n && strncmp(t->names[lo], prefix, lp) == 0; lo++) {
            const char *rest = t->names[lo] + lp;
            char *p;

            if (rest[0] == '\0' || strspn(rest, "0123456789-") != strlen(rest))
                continue; /* not a name the writer makes */
            if ((p = join(it->outsub, t->names[lo])) != NULL) {
                if (unlink(p) == 0)
                    LOG_INFO("removed a stale temporary: %s", p);
                free(p);
            }
        }
    }
}

/* Undo a claim that did not succeed: the lock file if this claim holds it
 * (locked_fd >= 0), and the folders it made if they are still empty. */
static int claim_failed(const item *it, char *lock_path, char *made, int locked_fd,
                        int rc)
{
    if (locked_fd >= 0) {
        unlink(lock_path);
        close(locked_fd);
    }
    free(lock_path);
    remove_made(it->outsub, made);
    free(made);
    return rc;
}

int samsep_batch_claim(samsep_batch *b, int index, samsep_claim **out, char *err,
                       size_t errlen)
{
    item *it;
    char *lock_path, *made = NULL, key[SAMSEP_HIDDEN_KEY_MAX + 1];
    int attempt, fd = -1;

    if (out != NULL)
        *out = NULL;
    if (b == NULL || out == NULL || index < 0 || index >= b->n ||
        b->items[index].pub.action != SAMSEP_ACTION_PROCESS) {
        set_err(err, errlen, "batch: nothing to claim");
        return SAMSEP_ERR_INVALID;
    }
    it = &b->items[index];
    samsep_hidden_key(base_name(it->target), key);
    lock_path = fmt("%s/.%s%s", it->outsub, key, LOCK_SUFFIX);
    if (lock_path == NULL)
        return SAMSEP_ERR_NOMEM;
    for (attempt = 0; attempt < 20; attempt++) {
        struct flock fl;
        struct stat a, p;

        if (made == NULL)
            made = first_missing(it->outsub);
        if (samsep_make_dirs(it->outsub) != 0) {
            int e = errno;

            set_err(err, errlen, "%s: cannot create output folder: %s", it->outsub,
                    strerror(e));
            return claim_failed(it, lock_path, made, -1,
                                e == ENOSPC ? SAMSEP_ERR_NOSPACE : SAMSEP_ERR_IO);
        }
        fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0 && errno == ENOENT)
            continue; /* a failed claim removed the folder just made: again */
        if (fd < 0) {
            int e = errno;

            set_err(err, errlen, "%s: cannot create lock file: %s", lock_path,
                    strerror(e));
            return claim_failed(it, lock_path, made, -1,
                                e == ENOSPC ? SAMSEP_ERR_NOSPACE : SAMSEP_ERR_IO);
        }
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd, F_SETLK, &fl) != 0) {
            int e = errno;

            close(fd);
            if (e == EAGAIN || e == EACCES) {
                set_err(err, errlen, "claimed by another samsep process");
                return claim_failed(it, lock_path, made, -1, SAMSEP_ERR_BUSY);
            }
            set_err(err, errlen, "cannot lock %s: %s", it->target, strerror(e));
            return claim_failed(it, lock_path, made, -1, SAMSEP_ERR_IO);
        }
        /* The holder before us unlinks the file on release; make sure we
         * locked the file that is there now, not an orphan. */
        if (fstat(fd, &a) == 0 && stat(lock_path, &p) == 0 && a.st_dev == p.st_dev &&
            a.st_ino == p.st_ino)
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        set_err(err, errlen, "cannot lock %s: lock file keeps changing", it->target);
        return claim_failed(it, lock_path, made, -1, SAMSEP_ERR_BUSY);
    }
    if (!b->overwrite && outputs_current(it, it->provenance)) {
        set_err(err, errlen, "done by another samsep process");
        return claim_failed(it, lock_path, made, fd, SAMSEP_ERR_EMPTY);
    }
    remove_stale_temps(b, it);
    *out = malloc(sizeof **out);
    if (*out == NULL || ((*out)->outsub = xstrdup(it->outsub)) == NULL) {
        free(*out);
        *out = NULL;
        return claim_failed(it, lock_path, made, fd, SAMSEP_ERR_NOMEM);
    }
    (*out)->fd = fd;
    (*out)->lock_path = lock_path;
    (*out)->track = temporary_track(lock_path);
    (*out)->made = made;
    return SAMSEP_OK;
}

void samsep_claim_release(samsep_claim *c)
{
    if (c == NULL)
        return;
    /* Forgotten before it is unlinked: once unlinked, another process may
     * create and lock a new file under that name, which a program ending at
     * once must not remove. */
    temporary_untrack(c->track);
    unlink(c->lock_path); /* while still locked: see samsep_batch_claim */
    close(c->fd);
    remove_made(c->outsub, c->made);
    free(c->lock_path);
    free(c->outsub);
    free(c->made);
    free(c);
}
