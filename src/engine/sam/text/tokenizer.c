/*
 * tokenizer.c - see tokenizer.h. HuggingFace's fast T5 tokenizer, in C.
 *
 * Both model sources (tokenizer.json through cJSON, spiece.model through
 * spm.c) are reduced to one description - pieces with scores, the unknown
 * id, special tokens, the character map, the post-processor's ids - and
 * tk_build() turns it into the tables encoding uses:
 *
 *  - the pieces in a byte trie whose edges live in one open-addressing hash
 *    table keyed by (node, byte). Walking it from a text position lists, in
 *    order of length, every piece that starts there, so the Viterbi pass
 *    costs O(n * longest piece) hash probes. A piece string that occurs twice
 *    keeps its last id (the behaviour of the HashMap in tokenizers);
 *  - the precompiled character map as SentencePiece writes it: a little-
 *    endian u32 byte size, a Darts-clone double-array trie of that many bytes
 *    (u32 units: bits 0-7 label, bit 8 has-leaf, bits 10-31 offset shifted
 *    left by 8 when bit 9 is set; a leaf unit's low 31 bits are its value),
 *    then a blob of NUL-terminated replacement strings that the values index.
 *    Every unit index and value is checked when it is used; a bad one fails
 *    the encode with SAMSEP_ERR_FORMAT instead of reading outside the map.
 *
 * Normalisation follows tokenizers' Precompiled normalizer, which is not
 * sentencepiece's: the text is cut into extended grapheme clusters (UAX #29,
 * tables in tokenizer_unicode.h); a cluster shorter than 6 bytes is looked
 * up whole and, if any prefix of it is in the map, the SHORTEST such prefix's
 * replacement stands for the whole cluster (so "fi" ligature + U+0301
 * becomes "fi", the accent dropped); otherwise each character is looked up
 * on its own. A NUL byte ends a lookup, as in the Rust trie. Whitespace is
 * Rust's char::is_whitespace (the Unicode White_Space property).
 *
 * The Viterbi pass is the one of tokenizers' Unigram::encode_optimized:
 * scores are doubles, a node is replaced only by a strictly better score
 * (shorter pieces are tried first), a character with no piece of exactly its
 * length gets an unknown edge scored min_score - 10, and a run of unknown
 * edges on the best path becomes one token whose id is the fused string's
 * own id if it is a piece, else the unknown id.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/internal.h"
#include "engine/sam/text/spm.h"
#include "engine/sam/text/tokenizer.h"
#include "engine/sam/text/tokenizer_unicode.h"

#define UNK_PENALTY 10.0
#define MAX_FILE_BYTES ((size_t)1 << 30)
#define MAX_POST 8       /* post-processor ids before or after the text */
#define T5_EXTRA_IDS 100 /* T5Tokenizer's default extra_ids */
#define NO_NODE UINT32_MAX

/* "▁" U+2581 in UTF-8 */
static const uint8_t META[3] = { 0xe2, 0x96, 0x81 };

typedef struct str_view {
    const char *s;
    size_t len;
} str_view;

typedef struct special_token {
    const char *str; /* NUL-terminated, in the arena */
    size_t len;
    int32_t id;
} special_token;

typedef struct piece_trie {
    int32_t *node_id; /* [n_nodes] piece id ending at the node, or -1 */
    uint32_t n_nodes;
    uint64_t *keys;  /* [mask + 1] ((parent << 8) | byte) + 1; 0 = free */
    uint32_t *child; /* [mask + 1] */
    size_t mask;
} piece_trie;

struct t5_tokenizer {
    int n_pieces;
    double *scores; /* [n_pieces] */
    int32_t unk_id;
    double unk_score; /* min score - UNK_PENALTY */
    piece_trie trie;

    int n_ids;
    const char **names; /* [n_ids], NULL where no token has the id */
    char *arena;        /* every string above, NUL-terminated */

    special_token *special; /* [n_special] */
    int n_special;
    uint8_t special_first[256]; /* 1 where a special token starts with the byte */

    uint32_t *cm_units; /* NULL: no character map (identity) */
    size_t cm_n_units;
    char *cm_blob;
    size_t cm_blob_len;

    int32_t pre[MAX_POST], suf[MAX_POST];
    int n_pre, n_suf;
};

/* What both loaders hand to tk_build(); strings are borrowed. */
typedef struct tk_spec {
    const char *name;
    int n_pieces;
    const str_view *pieces; /* [n_pieces] */
    const double *scores;   /* [n_pieces] */
    int32_t unk_id;
    int n_special;
    const str_view *sp_str;  /* [n_special] */
    const int32_t *sp_id;    /* [n_special] */
    const uint8_t *charsmap; /* NULL: identity */
    size_t charsmap_len;
    int32_t pre[MAX_POST], suf[MAX_POST];
    int n_pre, n_suf;
} tk_spec;

/* ------------------------------------------------------------------ */
/* UTF-8 and Unicode properties                                        */
/* ------------------------------------------------------------------ */

/* Length of the character starting with lead byte b (input is valid UTF-8). */
static size_t utf8_len(uint8_t b)
{
    return b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
}

static uint32_t utf8_decode(const uint8_t *s, size_t k)
{
    static const uint8_t lead_mask[5] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
    uint32_t cp = s[0] & lead_mask[k];
    for (size_t j = 1; j < k; j++)
        cp = (cp << 6) | (s[j] & 0x3f);
    return cp;
}

/* Rust's char::is_whitespace: the White_Space property. */
static int is_white_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

static int gcb_class(uint32_t cp)
{
    if (cp >= 0xac00 && cp <= 0xd7a3)
        return (cp - 0xac00) % 28 == 0 ? GCB_LV : GCB_LVT;
    size_t lo = 0, hi = sizeof(gcb_table) / sizeof(gcb_table[0]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < gcb_table[mid].lo)
            hi = mid;
        else if (cp > gcb_table[mid].hi)
            lo = mid + 1;
        else
            return gcb_table[mid].cls;
    }
    return GCB_OTHER;
}

/*
 * End of the extended grapheme cluster that starts at s[i] (UAX #29 rules
 * GB3-GB13; GB9c, new in Unicode 15.1, only ever joins clusters of 9 bytes
 * or more and so cannot change what the normaliser does).
 */
static size_t grapheme_end(const uint8_t *s, size_t n, size_t i)
{
    size_t k = utf8_len(s[i]);
    int prev = gcb_class(utf8_decode(s + i, k));
    int ri_run = prev == GCB_RI;            /* regional indicators in a row */
    int pict = prev == GCB_EXTPICT ? 1 : 0; /* 1: ExtPict Extend*, 2: then ZWJ */
    size_t j = i + k;
    while (j < n) {
        k = utf8_len(s[j]);
        int cur = gcb_class(utf8_decode(s + j, k));
        int join;
        if (prev == GCB_CR && cur == GCB_LF)
            join = 1; /* GB3 */
        else if (prev == GCB_CR || prev == GCB_LF || prev == GCB_CONTROL)
            join = 0; /* GB4 */
        else if (cur == GCB_CR || cur == GCB_LF || cur == GCB_CONTROL)
            join = 0; /* GB5 */
        else if (prev == GCB_L &&
                 (cur == GCB_L || cur == GCB_V || cur == GCB_LV || cur == GCB_LVT))
            join = 1; /* GB6 */
        else if ((prev == GCB_LV || prev == GCB_V) && (cur == GCB_V || cur == GCB_T))
            join = 1; /* GB7 */
        else if ((prev == GCB_LVT || prev == GCB_T) && cur == GCB_T)
            join = 1; /* GB8 */
        else if (cur == GCB_EXTEND || cur == GCB_ZWJ || cur == GCB_SPACINGMARK ||
                 prev == GCB_PREPEND)
            join = 1; /* GB9, GB9a, GB9b */
        else if (prev == GCB_ZWJ && cur == GCB_EXTPICT && pict == 2)
            join = 1; /* GB11 */
        else if (prev == GCB_RI && cur == GCB_RI && (ri_run & 1))
            join = 1; /* GB12, GB13 */
        else
            join = 0; /* GB999 */
        if (!join)
            break;
        if (cur == GCB_EXTPICT)
            pict = 1;
        else if (cur == GCB_ZWJ && pict == 1)
            pict = 2;
        else if (!(cur == GCB_EXTEND && pict == 1))
            pict = 0;
        ri_run = cur == GCB_RI ? ri_run + 1 : 0;
        prev = cur;
        j += k;
    }
    return j;
}

/* ------------------------------------------------------------------ */
/* Piece trie                                                          */
/* ------------------------------------------------------------------ */

static size_t edge_slot(uint64_t key, size_t mask)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (size_t)key & mask;
}

static uint32_t trie_child(const piece_trie *t, uint32_t node, uint8_t byte)
{
    uint64_t key = (((uint64_t)node << 8) | byte) + 1;
    for (size_t s = edge_slot(key, t->mask);; s = (s + 1) & t->mask) {
        if (t->keys[s] == key)
            return t->child[s];
        if (t->keys[s] == 0)
            return NO_NODE;
    }
}

static void trie_free(piece_trie *t)
{
    free(t->node_id);
    free(t->keys);
    free(t->child);
}

static int trie_build(piece_trie *t, const str_view *pieces, int n)
{
    size_t total = 1;
    for (int i = 0; i < n; i++) {
        if (pieces[i].len >= UINT32_MAX - total)
            return SAMSEP_ERR_NOMEM;
        total += pieces[i].len;
    }
    size_t cap = 16;
    while (cap < 2 * total) {
        if (cap > SIZE_MAX / 4)
            return SAMSEP_ERR_NOMEM;
        cap *= 2;
    }
    t->node_id = malloc(total * sizeof(*t->node_id));
    t->keys = calloc(cap, sizeof(*t->keys));
    t->child = malloc(cap * sizeof(*t->child));
    if (!t->node_id || !t->keys || !t->child)
        return SAMSEP_ERR_NOMEM;
    t->mask = cap - 1;
    t->n_nodes = 1;
    t->node_id[0] = -1;
    for (int i = 0; i < n; i++) {
        uint32_t node = 0;
        const uint8_t *p = (const uint8_t *)pieces[i].s;
        for (size_t k = 0; k < pieces[i].len; k++) {
            uint32_t c = trie_child(t, node, p[k]);
            if (c == NO_NODE) {
                c = t->n_nodes++;
                t->node_id[c] = -1;
                uint64_t key = (((uint64_t)node << 8) | p[k]) + 1;
                size_t s = edge_slot(key, t->mask);
                while (t->keys[s] != 0)
                    s = (s + 1) & t->mask;
                t->keys[s] = key;
                t->child[s] = c;
            }
            node = c;
        }
        t->node_id[node] = i; /* a repeated string keeps its last id */
    }
    return 0;
}

/* Id of the piece that is exactly s[0..n), or -1. */
static int32_t trie_exact(const piece_trie *t, const uint8_t *s, size_t n)
{
    uint32_t node = 0;
    for (size_t k = 0; k < n; k++) {
        node = trie_child(t, node, s[k]);
        if (node == NO_NODE)
            return -1;
    }
    return t->node_id[node];
}

/* ------------------------------------------------------------------ */
/* Precompiled character map                                           */
/* ------------------------------------------------------------------ */

static int cm_parse(t5_tokenizer *tk, const uint8_t *cm, size_t len, const char *name,
                    char *err, size_t errlen)
{
    if (len < 4) {
        set_err(err, errlen, "%s: precompiled_charsmap: %zu bytes, too short", name, len);
        return SAMSEP_ERR_FORMAT;
    }
    uint32_t trie_bytes = (uint32_t)cm[0] | ((uint32_t)cm[1] << 8) |
                          ((uint32_t)cm[2] << 16) | ((uint32_t)cm[3] << 24);
    if (trie_bytes > len - 4 || trie_bytes / 4 == 0) {
        set_err(err, errlen,
                "%s: precompiled_charsmap: trie of %u bytes does not fit in %zu bytes",
                name, trie_bytes, len - 4);
        return SAMSEP_ERR_FORMAT;
    }
    size_t n_units = trie_bytes / 4;
    const uint8_t *blob = cm + 4 + trie_bytes;
    size_t blob_len = len - 4 - trie_bytes;
    size_t bad = t5_spm_utf8_check(blob, blob_len);
    if (bad != blob_len) {
        set_err(err, errlen,
                "%s: precompiled_charsmap: replacement strings are not valid UTF-8 "
                "(byte %zu)",
                name, bad);
        return SAMSEP_ERR_FORMAT;
    }
    tk->cm_units = malloc(n_units * sizeof(uint32_t));
    tk->cm_blob = malloc(blob_len ? blob_len : 1);
    if (!tk->cm_units || !tk->cm_blob) {
        set_err(err, errlen, "%s: out of memory for the character map", name);
        return SAMSEP_ERR_NOMEM;
    }
    for (size_t i = 0; i < n_units; i++) {
        const uint8_t *p = cm + 4 + 4 * i;
        tk->cm_units[i] = (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
                          ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    }
    memcpy(tk->cm_blob, blob, blob_len);
    tk->cm_n_units = n_units;
    tk->cm_blob_len = blob_len;
    return 0;
}

static size_t unit_offset(uint32_t u)
{
    return (size_t)(u >> 10) << ((u & (1u << 9)) >> 6);
}

/*
 * The replacement of the shortest prefix of key[0..n) that the map holds.
 * Returns 1 with *repl and *rlen set, 0 when no prefix is in the map, or
 * SAMSEP_ERR_FORMAT when the map points outside itself.
 */
static int cm_lookup(const t5_tokenizer *tk, const uint8_t *key, size_t n,
                     const char **repl, size_t *rlen)
{
    const uint32_t *a = tk->cm_units;
    size_t na = tk->cm_n_units;
    size_t pos = unit_offset(a[0]);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = key[i];
        if (c == 0)
            break;
        pos ^= c;
        if (pos >= na)
            return SAMSEP_ERR_FORMAT;
        uint32_t u = a[pos];
        if ((u & (0x80000000u | 0xffu)) != c)
            return 0;
        pos ^= unit_offset(u);
        if (u & (1u << 8)) {
            if (pos >= na)
                return SAMSEP_ERR_FORMAT;
            size_t v = a[pos] & 0x7fffffffu;
            if (v > tk->cm_blob_len ||
                (v < tk->cm_blob_len && ((uint8_t)tk->cm_blob[v] & 0xc0) == 0x80))
                return SAMSEP_ERR_FORMAT;
            size_t e = v;
            while (e < tk->cm_blob_len && tk->cm_blob[e] != '\0')
                e++;
            *repl = tk->cm_blob + v;
            *rlen = e - v;
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

typedef struct tok_span {
    size_t start, end;
    int32_t id;
} tok_span;

typedef struct workspace {
    const t5_tokenizer *tk;
    uint8_t *norm; /* normalised segment */
    size_t norm_len, norm_cap;
    uint8_t *word; /* one word with its "▁" */
    size_t word_cap;
    double *score; /* lattice [n + 1]: best score ending at each byte */
    size_t *from;  /* where that best token starts; SIZE_MAX: unreached */
    int32_t *lid;  /* its id */
    size_t score_cap, from_cap, lid_cap;
    tok_span *toks;
    size_t tok_cap;
    int32_t *out;
    int count, budget, full;
} workspace;

static void ws_free(workspace *w)
{
    free(w->norm);
    free(w->word);
    free(w->score);
    free(w->from);
    free(w->lid);
    free(w->toks);
}

/* Make *p hold at least `need` elements of `size` bytes. */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2 / size)
            return SAMSEP_ERR_NOMEM;
        c *= 2;
    }
    void *q = realloc(*p, c * size);
    if (!q)
        return SAMSEP_ERR_NOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int norm_append(workspace *w, const void *s, size_t n)
{
    if (n > SIZE_MAX - w->norm_len)
        return SAMSEP_ERR_NOMEM;
    int rc = grow((void **)&w->norm, &w->norm_cap, w->norm_len + n, 1);
    if (rc)
        return rc;
    if (n)
        memcpy(w->norm + w->norm_len, s, n);
    w->norm_len += n;
    return 0;
}

static void emit(workspace *w, int32_t id)
{
    if (w->count < w->budget)
        w->out[w->count++] = id;
    else
        w->full = 1;
}

static int normalize(workspace *w, const uint8_t *s, size_t n)
{
    const t5_tokenizer *tk = w->tk;
    w->norm_len = 0;
    if (!tk->cm_units)
        return norm_append(w, s, n);
    const char *r;
    size_t rl;
    int rc;
    size_t i = 0;
    while (i < n) {
        size_t e = grapheme_end(s, n, i);
        if (e - i < 6) {
            rc = cm_lookup(tk, s + i, e - i, &r, &rl);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                if ((rc = norm_append(w, r, rl)) != 0)
                    return rc;
                i = e;
                continue;
            }
        }
        while (i < e) {
            size_t k = utf8_len(s[i]);
            rc = cm_lookup(tk, s + i, k, &r, &rl);
            if (rc < 0)
                return rc;
            rc = rc == 1 ? norm_append(w, r, rl) : norm_append(w, s + i, k);
            if (rc)
                return rc;
            i += k;
        }
    }
    return 0;
}

/* Unigram Viterbi over p[0..n), ids appended to the output. */
static int viterbi(workspace *w, const uint8_t *p, size_t n)
{
    const t5_tokenizer *tk = w->tk;
    if (n == 0)
        return 0;
    int rc = grow((void **)&w->score, &w->score_cap, n + 1, sizeof(double));
    if (!rc)
        rc = grow((void **)&w->from, &w->from_cap, n + 1, sizeof(size_t));
    if (!rc)
        rc = grow((void **)&w->lid, &w->lid_cap, n + 1, sizeof(int32_t));
    if (rc)
        return rc;

    for (size_t i = 0; i <= n; i++)
        w->from[i] = SIZE_MAX;
    w->score[0] = 0.0;
    w->from[0] = 0;
    for (size_t i = 0; i < n;) {
        double base = w->score[i];
        size_t mb = utf8_len(p[i]);
        int single = 0;
        uint32_t node = 0;
        for (size_t k = i; k < n; k++) {
            node = trie_child(&tk->trie, node, p[k]);
            if (node == NO_NODE)
                break;
            int32_t id = tk->trie.node_id[node];
            if (id < 0)
                continue;
            size_t e = k + 1;
            double c = base + tk->scores[id];
            if (w->from[e] == SIZE_MAX || c > w->score[e]) {
                w->score[e] = c;
                w->from[e] = i;
                w->lid[e] = id;
            }
            if (e - i == mb)
                single = 1;
        }
        if (!single) {
            size_t e = i + mb;
            double c = base + tk->unk_score;
            if (w->from[e] == SIZE_MAX || c > w->score[e]) {
                w->score[e] = c;
                w->from[e] = i;
                w->lid[e] = tk->unk_id;
            }
        }
        i += mb;
    }

    /* Back from the end: the best path, last token first. Every character
       start is reached (it has a piece or an unknown edge), so this ends. */
    size_t nt = 0;
    for (size_t e = n; e > 0; e = w->from[e]) {
        if (w->from[e] >= e)
            return SAMSEP_ERR_FORMAT; /* unreachable for valid UTF-8 */
        if ((rc = grow((void **)&w->toks, &w->tok_cap, nt + 1, sizeof(tok_span))) != 0)
            return rc;
        w->toks[nt].start = w->from[e];
        w->toks[nt].end = e;
        w->toks[nt].id = w->lid[e];
        nt++;
    }
    for (size_t j = nt; j-- > 0 && !w->full;) {
        if (w->toks[j].id != tk->unk_id) {
            emit(w, w->toks[j].id);
            continue;
        }
        size_t start = w->toks[j].start, end = w->toks[j].end;
        while (j > 0 && w->toks[j - 1].id == tk->unk_id)
            end = w->toks[--j].end;
        int32_t id = trie_exact(&tk->trie, p + start, end - start);
        emit(w, id >= 0 ? id : tk->unk_id);
    }
    return 0;
}

/* One word from WhitespaceSplit: Metaspace, then the unigram model. */
static int encode_word(workspace *w, const uint8_t *s, size_t n)
{
    size_t pre = (n >= 3 && memcmp(s, META, 3) == 0) ? 0 : 3;
    int rc = grow((void **)&w->word, &w->word_cap, n + pre, 1);
    if (rc)
        return rc;
    memcpy(w->word, META, pre);
    memcpy(w->word + pre, s, n);
    n += pre;
    /* Split before every "▁" (MergedWithNext). */
    size_t start = 0;
    for (size_t i = 3; i + 3 <= n; i++) {
        if (memcmp(w->word + i, META, 3) == 0) {
            if ((rc = viterbi(w, w->word + start, i - start)) != 0)
                return rc;
            start = i;
            i += 2;
        }
    }
    return viterbi(w, w->word + start, n - start);
}

/* Text between special tokens: normalise, split on whitespace, encode. */
static int encode_segment(workspace *w, const uint8_t *s, size_t n)
{
    int rc = normalize(w, s, n);
    if (rc)
        return rc;
    const uint8_t *t = w->norm;
    size_t len = w->norm_len, word = 0;
    for (size_t i = 0; i < len && !w->full;) {
        size_t k = utf8_len(t[i]);
        if (is_white_space(utf8_decode(t + i, k))) {
            if (i > word && (rc = encode_word(w, t + word, i - word)) != 0)
                return rc;
            word = i + k;
        }
        i += k;
    }
    if (len > word && !w->full)
        rc = encode_word(w, t + word, len - word);
    return rc;
}

int t5_tokenizer_encode_len(const t5_tokenizer *tk, const char *text, size_t len,
                            int32_t *ids, int max_len, char *err, size_t errlen)
{
    if (!tk || (!text && len) || !ids) {
        set_err(err, errlen, "tokenizer: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    if (max_len < tk->n_pre + tk->n_suf || max_len <= 0) {
        set_err(err, errlen, "tokenizer: max_len %d cannot hold the %d special ids",
                max_len, tk->n_pre + tk->n_suf);
        return SAMSEP_ERR_INVALID;
    }
    const uint8_t *s = (const uint8_t *)(len ? text : "");
    size_t bad = t5_spm_utf8_check(s, len);
    if (bad != len) {
        set_err(err, errlen, "tokenizer: text is not valid UTF-8 (byte %zu)", bad);
        return SAMSEP_ERR_INVALID;
    }

    workspace w;
    memset(&w, 0, sizeof(w));
    w.tk = tk;
    w.out = ids + tk->n_pre;
    w.budget = max_len - tk->n_pre - tk->n_suf;
    int rc = 0;
    size_t seg = 0;
    for (size_t i = 0; i < len && !w.full;) {
        if (tk->special_first[s[i]]) {
            int best = -1;
            size_t best_len = 0;
            for (int k = 0; k < tk->n_special; k++) {
                const special_token *sp = &tk->special[k];
                if (sp->len > best_len && sp->len <= len - i &&
                    memcmp(s + i, sp->str, sp->len) == 0) {
                    best = k;
                    best_len = sp->len;
                }
            }
            if (best >= 0) {
                if ((rc = encode_segment(&w, s + seg, i - seg)) != 0)
                    break;
                emit(&w, tk->special[best].id);
                i += best_len;
                seg = i;
                continue;
            }
        }
        i++;
    }
    if (!rc && !w.full)
        rc = encode_segment(&w, s + seg, len - seg);
    ws_free(&w);
    if (rc == SAMSEP_ERR_NOMEM) {
        set_err(err, errlen, "tokenizer: out of memory");
        return rc;
    }
    if (rc) {
        set_err(err, errlen, "tokenizer: the model's precompiled_charsmap is corrupt");
        return rc;
    }
    memcpy(ids, tk->pre, (size_t)tk->n_pre * sizeof(int32_t));
    memcpy(ids + tk->n_pre + w.count, tk->suf, (size_t)tk->n_suf * sizeof(int32_t));
    return tk->n_pre + w.count + tk->n_suf;
}

int t5_tokenizer_encode(const t5_tokenizer *tk, const char *text, int32_t *ids,
                        int max_len, char *err, size_t errlen)
{
    if (!text) {
        set_err(err, errlen, "tokenizer: NULL text");
        return SAMSEP_ERR_INVALID;
    }
    return t5_tokenizer_encode_len(tk, text, strlen(text), ids, max_len, err, errlen);
}

int t5_tokenizer_vocab_size(const t5_tokenizer *tk)
{
    return tk ? tk->n_ids : 0;
}

const char *t5_tokenizer_piece(const t5_tokenizer *tk, int32_t id)
{
    if (!tk || id < 0 || id >= tk->n_ids)
        return NULL;
    return tk->names[id];
}

void t5_tokenizer_close(t5_tokenizer *tk)
{
    if (!tk)
        return;
    free(tk->scores);
    trie_free(&tk->trie);
    free(tk->names);
    free(tk->arena);
    free(tk->special);
    free(tk->cm_units);
    free(tk->cm_blob);
    free(tk);
}

/* ------------------------------------------------------------------ */
/* Building from a description                                         */
/* ------------------------------------------------------------------ */

static int tk_build(const tk_spec *sp, t5_tokenizer **out, char *err, size_t errlen)
{
    const char *name = sp->name;
    if (sp->n_pieces <= 0) {
        set_err(err, errlen, "%s: the vocabulary is empty", name);
        return SAMSEP_ERR_FORMAT;
    }
    if (sp->unk_id < 0 || sp->unk_id >= sp->n_pieces) {
        set_err(err, errlen, "%s: unknown-token id %d outside the vocabulary of %d", name,
                (int)sp->unk_id, sp->n_pieces);
        return SAMSEP_ERR_FORMAT;
    }
    /* Added tokens either name a piece's id or extend the id space, without
       leaving more holes than there are added tokens. */
    int64_t id_limit = (int64_t)sp->n_pieces + sp->n_special;
    int64_t n_ids = sp->n_pieces;
    for (int i = 0; i < sp->n_special; i++) {
        if (sp->sp_id[i] < 0 || sp->sp_id[i] >= id_limit) {
            set_err(err, errlen, "%s: added token %d has id %d, outside 0..%lld", name, i,
                    (int)sp->sp_id[i], (long long)id_limit - 1);
            return SAMSEP_ERR_FORMAT;
        }
        if (sp->sp_str[i].len == 0) {
            set_err(err, errlen, "%s: added token %d is empty", name, i);
            return SAMSEP_ERR_FORMAT;
        }
        if (t5_spm_utf8_check((const uint8_t *)sp->sp_str[i].s, sp->sp_str[i].len) !=
            sp->sp_str[i].len) {
            set_err(err, errlen, "%s: added token %d is not valid UTF-8", name, i);
            return SAMSEP_ERR_FORMAT;
        }
        if (sp->sp_id[i] >= n_ids)
            n_ids = (int64_t)sp->sp_id[i] + 1;
    }
    for (int i = 0; i < sp->n_pre + sp->n_suf; i++) {
        int32_t id = i < sp->n_pre ? sp->pre[i] : sp->suf[i - sp->n_pre];
        if (id < 0 || id >= n_ids) {
            set_err(err, errlen, "%s: post-processor id %d outside the vocabulary", name,
                    (int)id);
            return SAMSEP_ERR_FORMAT;
        }
    }
    for (int i = 0; i < sp->n_pieces; i++) {
        const str_view *p = &sp->pieces[i];
        if (p->len == 0) {
            set_err(err, errlen, "%s: piece %d is empty", name, i);
            return SAMSEP_ERR_FORMAT;
        }
        if (t5_spm_utf8_check((const uint8_t *)p->s, p->len) != p->len) {
            set_err(err, errlen, "%s: piece %d is not valid UTF-8", name, i);
            return SAMSEP_ERR_FORMAT;
        }
        if (!isfinite(sp->scores[i])) {
            set_err(err, errlen, "%s: piece %d has a score that is not finite", name, i);
            return SAMSEP_ERR_FORMAT;
        }
    }

    t5_tokenizer *tk = calloc(1, sizeof(*tk));
    if (!tk)
        goto nomem;
    tk->n_pieces = sp->n_pieces;
    tk->unk_id = sp->unk_id;
    tk->n_ids = (int)n_ids;
    tk->n_special = sp->n_special;
    tk->n_pre = sp->n_pre;
    tk->n_suf = sp->n_suf;
    memcpy(tk->pre, sp->pre, sizeof(tk->pre));
    memcpy(tk->suf, sp->suf, sizeof(tk->suf));

    size_t arena = 1;
    for (int i = 0; i < sp->n_pieces; i++)
        arena += sp->pieces[i].len + 1;
    for (int i = 0; i < sp->n_special; i++)
        arena += sp->sp_str[i].len + 1;
    tk->arena = malloc(arena);
    tk->scores = malloc((size_t)sp->n_pieces * sizeof(double));
    tk->names = calloc((size_t)n_ids, sizeof(*tk->names));
    tk->special = calloc(sp->n_special ? (size_t)sp->n_special : 1, sizeof(*tk->special));
    if (!tk->arena || !tk->scores || !tk->names || !tk->special)
        goto nomem;

    char *a = tk->arena;
    double min_score = INFINITY;
    for (int i = 0; i < sp->n_pieces; i++) {
        memcpy(a, sp->pieces[i].s, sp->pieces[i].len);
        a[sp->pieces[i].len] = '\0';
        tk->names[i] = a;
        a += sp->pieces[i].len + 1;
        tk->scores[i] = sp->scores[i];
        if (sp->scores[i] < min_score)
            min_score = sp->scores[i];
    }
    tk->unk_score = min_score - UNK_PENALTY;
    for (int i = 0; i < sp->n_special; i++) {
        special_token *t = &tk->special[i];
        memcpy(a, sp->sp_str[i].s, sp->sp_str[i].len);
        a[sp->sp_str[i].len] = '\0';
        t->str = a;
        t->len = sp->sp_str[i].len;
        t->id = sp->sp_id[i];
        a += t->len + 1;
        if (!tk->names[t->id])
            tk->names[t->id] = t->str;
        tk->special_first[(uint8_t)t->str[0]] = 1;
    }

    int rc = trie_build(&tk->trie, sp->pieces, sp->n_pieces);
    if (rc)
        goto nomem;
    if (sp->charsmap &&
        (rc = cm_parse(tk, sp->charsmap, sp->charsmap_len, name, err, errlen)) != 0) {
        t5_tokenizer_close(tk);
        return rc;
    }
    *out = tk;
    return 0;

nomem:
    t5_tokenizer_close(tk);
    set_err(err, errlen, "%s: out of memory", name);
    return SAMSEP_ERR_NOMEM;
}

/* ------------------------------------------------------------------ */
/* tokenizer.json                                                      */
/* ------------------------------------------------------------------ */

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 with padding, nothing else allowed. */
static int b64_decode(const char *s, uint8_t **out, size_t *out_len)
{
    size_t n = strlen(s);
    if (n % 4 != 0)
        return -1;
    size_t pad = 0;
    if (n && s[n - 1] == '=')
        pad = (n >= 2 && s[n - 2] == '=') ? 2 : 1;
    uint8_t *buf = malloc(n / 4 * 3 + 1);
    if (!buf)
        return SAMSEP_ERR_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            uint8_t c = (uint8_t)s[i + k];
            if (c == '=' && i + 4 == n && k >= 4 - (int)pad) {
                v[k] = 0;
                continue;
            }
            if ((v[k] = b64_value(c)) < 0) {
                free(buf);
                return -1;
            }
        }
        uint32_t x = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
                     ((uint32_t)v[2] << 6) | (uint32_t)v[3];
        buf[o++] = (uint8_t)(x >> 16);
        if (!(i + 4 == n && pad == 2))
            buf[o++] = (uint8_t)(x >> 8);
        if (!(i + 4 == n && pad >= 1))
            buf[o++] = (uint8_t)x;
    }
    *out = buf;
    *out_len = o;
    return 0;
}

static const cJSON *jget(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static int jstr_is(const cJSON *o, const char *key, const char *want)
{
    const cJSON *v = jget(o, key);
    return cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
}

/* An integer-valued number in [lo, hi]. */
static int jint(const cJSON *v, double lo, double hi, int32_t *out)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return 0;
    *out = (int32_t)d;
    return 1;
}

/* A boolean that is absent or false. */
static int jfalse(const cJSON *o, const char *key)
{
    const cJSON *v = jget(o, key);
    return !v || cJSON_IsFalse(v);
}

static int check_pre_tokenizer(const cJSON *pt, const char *name, char *err,
                               size_t errlen)
{
    const cJSON *list = jget(pt, "pretokenizers");
    if (!jstr_is(pt, "type", "Sequence") || !cJSON_IsArray(list) ||
        cJSON_GetArraySize(list) != 2 ||
        !jstr_is(cJSON_GetArrayItem(list, 0), "type", "WhitespaceSplit") ||
        !jstr_is(cJSON_GetArrayItem(list, 1), "type", "Metaspace")) {
        set_err(err, errlen,
                "%s: pre_tokenizer: only Sequence[WhitespaceSplit, Metaspace] (T5) "
                "is supported",
                name);
        return SAMSEP_ERR_FORMAT;
    }
    const cJSON *m = cJSON_GetArrayItem(list, 1);
    const cJSON *scheme = jget(m, "prepend_scheme");
    const cJSON *split = jget(m, "split");
    int prepend = scheme ? jstr_is(m, "prepend_scheme", "always")
                         : cJSON_IsTrue(jget(m, "add_prefix_space"));
    if (!jstr_is(m, "replacement", "\xe2\x96\x81") || !prepend ||
        (split && !cJSON_IsTrue(split))) {
        set_err(err, errlen,
                "%s: pre_tokenizer: Metaspace must use replacement \"\xe2\x96\x81\", "
                "prepend always and split",
                name);
        return SAMSEP_ERR_FORMAT;
    }
    return 0;
}

/* TemplateProcessing's "single" template: special ids before and after $A. */
static int parse_post_processor(const cJSON *pp, tk_spec *sp, const char *name, char *err,
                                size_t errlen)
{
    if (!pp || cJSON_IsNull(pp))
        return 0;
    const cJSON *single = jget(pp, "single");
    const cJSON *table = jget(pp, "special_tokens");
    if (!jstr_is(pp, "type", "TemplateProcessing") || !cJSON_IsArray(single)) {
        set_err(err, errlen, "%s: post_processor: only TemplateProcessing is supported",
                name);
        return SAMSEP_ERR_FORMAT;
    }
    int seen_a = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, single)
    {
        const cJSON *seq = jget(item, "Sequence");
        const cJSON *tok = jget(item, "SpecialToken");
        if (seq && !seen_a && jstr_is(seq, "id", "A")) {
            seen_a = 1;
            continue;
        }
        const cJSON *tid = tok ? jget(tok, "id") : NULL;
        const cJSON *entry = cJSON_IsString(tid) && cJSON_IsObject(table)
                                 ? jget(table, tid->valuestring)
                                 : NULL;
        const cJSON *ids = entry ? jget(entry, "ids") : NULL;
        if (!cJSON_IsArray(ids)) {
            set_err(err, errlen,
                    "%s: post_processor: the single template must be special tokens "
                    "around one Sequence A, each listed in special_tokens",
                    name);
            return SAMSEP_ERR_FORMAT;
        }
        const cJSON *idv;
        cJSON_ArrayForEach(idv, ids)
        {
            int32_t *dst = seen_a ? sp->suf : sp->pre;
            int *cnt = seen_a ? &sp->n_suf : &sp->n_pre;
            if (*cnt >= MAX_POST || !jint(idv, 0, INT32_MAX, &dst[*cnt])) {
                set_err(err, errlen,
                        "%s: post_processor: bad or too many special token ids", name);
                return SAMSEP_ERR_FORMAT;
            }
            (*cnt)++;
        }
    }
    if (!seen_a) {
        set_err(err, errlen, "%s: post_processor: the single template has no $A", name);
        return SAMSEP_ERR_FORMAT;
    }
    return 0;
}

static int load_json(const char *data, size_t len, const char *name, t5_tokenizer **out,
                     char *err, size_t errlen)
{
    tk_spec sp;
    memset(&sp, 0, sizeof(sp));
    sp.name = name;
    str_view *pieces = NULL, *sp_str = NULL;
    double *scores = NULL;
    int32_t *sp_id = NULL;
    uint8_t *charsmap = NULL;
    int rc = SAMSEP_ERR_FORMAT;

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!root) {
        set_err(err, errlen, "%s: not valid JSON (near byte %zu)", name,
                end && end >= data ? (size_t)(end - data) : (size_t)0);
        return SAMSEP_ERR_FORMAT;
    }
    const cJSON *model = jget(root, "model");
    const cJSON *vocab = jget(model, "vocab");
    if (!cJSON_IsObject(model) || !jstr_is(model, "type", "Unigram")) {
        set_err(err, errlen, "%s: model: only a Unigram model is supported", name);
        goto done;
    }
    if (!jfalse(model, "byte_fallback")) {
        set_err(err, errlen, "%s: model: byte_fallback is not supported", name);
        goto done;
    }
    if (!cJSON_IsArray(vocab) || cJSON_GetArraySize(vocab) <= 0) {
        set_err(err, errlen, "%s: model.vocab must be a non-empty array", name);
        goto done;
    }
    int n = cJSON_GetArraySize(vocab);
    if (!jint(jget(model, "unk_id"), 0, n - 1, &sp.unk_id)) {
        set_err(err, errlen, "%s: model.unk_id must be an id of the vocabulary", name);
        goto done;
    }
    pieces = malloc((size_t)n * sizeof(*pieces));
    scores = malloc((size_t)n * sizeof(*scores));
    if (!pieces || !scores)
        goto nomem;
    int i = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, vocab)
    {
        const cJSON *s = cJSON_GetArrayItem(entry, 0);
        const cJSON *v = cJSON_GetArrayItem(entry, 1);
        if (!cJSON_IsArray(entry) || cJSON_GetArraySize(entry) != 2 ||
            !cJSON_IsString(s) || !cJSON_IsNumber(v)) {
            set_err(err, errlen, "%s: model.vocab[%d] is not [piece, score]", name, i);
            goto done;
        }
        pieces[i].s = s->valuestring;
        pieces[i].len = strlen(s->valuestring);
        scores[i] = v->valuedouble;
        i++;
    }
    sp.n_pieces = n;
    sp.pieces = pieces;
    sp.scores = scores;

    const cJSON *norm = jget(root, "normalizer");
    if (norm && !cJSON_IsNull(norm)) {
        const cJSON *cm = jget(norm, "precompiled_charsmap");
        if (!jstr_is(norm, "type", "Precompiled") || !cJSON_IsString(cm)) {
            set_err(err, errlen,
                    "%s: normalizer: only Precompiled (with precompiled_charsmap) is "
                    "supported",
                    name);
            goto done;
        }
        int brc = b64_decode(cm->valuestring, &charsmap, &sp.charsmap_len);
        if (brc == SAMSEP_ERR_NOMEM)
            goto nomem;
        if (brc) {
            set_err(err, errlen,
                    "%s: normalizer.precompiled_charsmap is not valid base64", name);
            goto done;
        }
        sp.charsmap = charsmap;
    }

    const cJSON *pt = jget(root, "pre_tokenizer");
    if ((rc = check_pre_tokenizer(pt, name, err, errlen)) != 0)
        goto done;
    rc = SAMSEP_ERR_FORMAT;

    const cJSON *added = jget(root, "added_tokens");
    if (added && !cJSON_IsNull(added)) {
        if (!cJSON_IsArray(added)) {
            set_err(err, errlen, "%s: added_tokens must be an array", name);
            goto done;
        }
        int na = cJSON_GetArraySize(added);
        sp_str = malloc((size_t)(na ? na : 1) * sizeof(*sp_str));
        sp_id = malloc((size_t)(na ? na : 1) * sizeof(*sp_id));
        if (!sp_str || !sp_id)
            goto nomem;
        int k = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, added)
        {
            const cJSON *content = jget(t, "content");
            if (!cJSON_IsObject(t) || !cJSON_IsString(content) ||
                !jint(jget(t, "id"), 0, INT32_MAX, &sp_id[k])) {
                set_err(err, errlen, "%s: added_tokens[%d] needs an id and a content",
                        name, k);
                goto done;
            }
            if (!jfalse(t, "normalized") || !jfalse(t, "lstrip") ||
                !jfalse(t, "rstrip") || !jfalse(t, "single_word")) {
                set_err(err, errlen,
                        "%s: added_tokens[%d]: normalized, lstrip, rstrip and "
                        "single_word tokens are not supported",
                        name, k);
                goto done;
            }
            sp_str[k].s = content->valuestring;
            sp_str[k].len = strlen(content->valuestring);
            k++;
        }
        sp.n_special = k;
        sp.sp_str = sp_str;
        sp.sp_id = sp_id;
    }

    if ((rc = parse_post_processor(jget(root, "post_processor"), &sp, name, err,
                                   errlen)) != 0)
        goto done;
    rc = tk_build(&sp, out, err, errlen);
    goto done;

nomem:
    set_err(err, errlen, "%s: out of memory", name);
    rc = SAMSEP_ERR_NOMEM;
done:
    cJSON_Delete(root);
    free(pieces);
    free(scores);
    free(sp_str);
    free(sp_id);
    free(charsmap);
    return rc;
}

/* ------------------------------------------------------------------ */
/* spiece.model                                                        */
/* ------------------------------------------------------------------ */

static int load_spm(const uint8_t *data, size_t len, const char *name, t5_tokenizer **out,
                    char *err, size_t errlen)
{
    t5_spm_model *m = NULL;
    int rc = t5_spm_model_parse(data, len, name, &m, err, errlen);
    if (rc)
        return rc;
    tk_spec sp;
    memset(&sp, 0, sizeof(sp));
    sp.name = name;
    str_view *pieces = NULL, *sp_str = NULL;
    double *scores = NULL;
    int32_t *sp_id = NULL;
    char extra[T5_EXTRA_IDS][20];
    rc = SAMSEP_ERR_FORMAT;

    if (m->model_type != SPM_MODEL_UNIGRAM) {
        set_err(err, errlen, "%s: model type %d is not supported (only unigram)", name,
                m->model_type);
        goto done;
    }
    if (m->byte_fallback) {
        set_err(err, errlen, "%s: byte_fallback models are not supported", name);
        goto done;
    }
    /* The model's pieces, then T5's 100 sentinels <extra_id_99> ..
       <extra_id_0> as pieces of score 0 - the vocabulary transformers'
       T5Converter writes into tokenizer.json - which are also special. */
    int n_model = m->n_pieces;
    int n = n_model + T5_EXTRA_IDS;
    pieces = malloc((size_t)n * sizeof(*pieces));
    scores = malloc((size_t)n * sizeof(*scores));
    sp_str = malloc((size_t)n * sizeof(*sp_str));
    sp_id = malloc((size_t)n * sizeof(*sp_id));
    if (!pieces || !scores || !sp_str || !sp_id) {
        set_err(err, errlen, "%s: out of memory", name);
        rc = SAMSEP_ERR_NOMEM;
        goto done;
    }
    sp.unk_id = -1;
    int ns = 0;
    int32_t eos = -1;
    for (int i = 0; i < n_model; i++) {
        const t5_spm_piece *p = &m->pieces[i];
        pieces[i].s = p->str;
        pieces[i].len = p->len;
        scores[i] = (double)p->score;
        if (p->type == SPM_UNKNOWN) {
            if (sp.unk_id >= 0) {
                set_err(err, errlen, "%s: pieces %d and %d are both UNKNOWN", name,
                        (int)sp.unk_id, i);
                goto done;
            }
            sp.unk_id = i;
        }
        if (p->type == SPM_CONTROL || p->type == SPM_UNKNOWN ||
            p->type == SPM_USER_DEFINED) {
            sp_str[ns].s = p->str;
            sp_str[ns].len = p->len;
            sp_id[ns++] = i;
        }
        if (p->len == 4 && memcmp(p->str, "</s>", 4) == 0)
            eos = i;
    }
    if (sp.unk_id < 0) {
        set_err(err, errlen, "%s: no piece of type UNKNOWN", name);
        goto done;
    }
    if (eos < 0) {
        set_err(err, errlen, "%s: no </s> piece to end the sequence with", name);
        goto done;
    }
    for (int k = 0; k < T5_EXTRA_IDS; k++) {
        int32_t id = n_model + T5_EXTRA_IDS - 1 - k;
        int len_k = snprintf(extra[k], sizeof(extra[k]), "<extra_id_%d>", k);
        pieces[id].s = extra[k];
        pieces[id].len = (size_t)len_k;
        scores[id] = 0.0;
        sp_str[ns].s = extra[k];
        sp_str[ns].len = (size_t)len_k;
        sp_id[ns++] = id;
    }
    sp.n_pieces = n;
    sp.pieces = pieces;
    sp.scores = scores;
    sp.n_special = ns;
    sp.sp_str = sp_str;
    sp.sp_id = sp_id;
    sp.suf[0] = eos;
    sp.n_suf = 1;
    if (m->charsmap_len > 0) {
        sp.charsmap = m->charsmap;
        sp.charsmap_len = m->charsmap_len;
    }
    rc = tk_build(&sp, out, err, errlen);
done:
    free(pieces);
    free(scores);
    free(sp_str);
    free(sp_id);
    t5_spm_model_free(m);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

int t5_tokenizer_open_memory(const void *data, size_t len, t5_tokenizer_format format,
                             const char *name, t5_tokenizer **out, char *err,
                             size_t errlen)
{
    if (!name)
        name = "tokenizer";
    if (out)
        *out = NULL;
    if (!out || (!data && len)) {
        set_err(err, errlen, "%s: NULL argument", name);
        return SAMSEP_ERR_INVALID;
    }
    const uint8_t *p = data;
    if (format == T5_TOKENIZER_AUTO) {
        size_t i = 0;
        if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
            i = 3;
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
            i++;
        format = (i < len && p[i] == '{') ? T5_TOKENIZER_JSON : T5_TOKENIZER_SPM;
    }
    switch (format) {
    case T5_TOKENIZER_JSON: return load_json(data, len, name, out, err, errlen);
    case T5_TOKENIZER_SPM: return load_spm(data, len, name, out, err, errlen);
    default:
        set_err(err, errlen, "%s: unknown tokenizer format %d", name, (int)format);
        return SAMSEP_ERR_INVALID;
    }
}

static int read_file(const char *path, uint8_t **buf, size_t *len, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "%s: cannot open", path);
        return SAMSEP_ERR_IO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        set_err(err, errlen, "%s: not a regular file", path);
        return SAMSEP_ERR_IO;
    }
    if ((uint64_t)st.st_size > MAX_FILE_BYTES) {
        fclose(f);
        set_err(err, errlen, "%s: %lld bytes is too large for a tokenizer", path,
                (long long)st.st_size);
        return SAMSEP_ERR_FORMAT;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        fclose(f);
        set_err(err, errlen, "%s: out of memory", path);
        return SAMSEP_ERR_NOMEM;
    }
    size_t got = fread(b, 1, n, f);
    int bad = ferror(f) || got != n;
    fclose(f);
    if (bad) {
        free(b);
        set_err(err, errlen, "%s: read error", path);
        return SAMSEP_ERR_IO;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* The tokenizer file of `path` (itself, or the tokenizer.json or
 * spiece.model of a folder): *file is NULL for path itself, else a
 * malloc'd name. */
static int find_file(const char *path, char **file, char *err, size_t errlen)
{
    struct stat st;

    *file = NULL;
    if (stat(path, &st) != 0) {
        set_err(err, errlen, "%s: no such file or folder", path);
        return SAMSEP_ERR_IO;
    }
    if (S_ISDIR(st.st_mode)) {
        static const char *const names[] = { "tokenizer.json", "spiece.model" };
        size_t plen = strlen(path);
        for (size_t i = 0; i < 2 && !*file; i++) {
            size_t n = plen + 1 + strlen(names[i]) + 1;
            char *cand = malloc(n);
            if (!cand) {
                set_err(err, errlen, "%s: out of memory", path);
                return SAMSEP_ERR_NOMEM;
            }
            snprintf(cand, n, "%s/%s", path, names[i]);
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode))
                *file = cand;
            else
                free(cand);
        }
        if (!*file) {
            set_err(err, errlen, "%s: holds neither tokenizer.json nor spiece.model",
                    path);
            return SAMSEP_ERR_IO;
        }
    }
    return SAMSEP_OK;
}

int t5_tokenizer_check(const char *path, char *err, size_t errlen)
{
    char *file = NULL;
    int rc;

    if (!path) {
        set_err(err, errlen, "tokenizer: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    rc = find_file(path, &file, err, errlen);
    free(file);
    return rc;
}

int t5_tokenizer_open(const char *path, t5_tokenizer **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!path || !out) {
        set_err(err, errlen, "tokenizer: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    char *file = NULL;
    int frc = find_file(path, &file, err, errlen);
    if (frc != SAMSEP_OK)
        return frc;
    const char *name = file ? file : path;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_file(name, &buf, &len, err, errlen);
    if (rc == 0) {
        rc =
            t5_tokenizer_open_memory(buf, len, T5_TOKENIZER_AUTO, name, out, err, errlen);
        free(buf);
    }
    free(file);
    return rc;
}
