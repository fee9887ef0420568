/*
 * pickle.c - see pickle.h. The reader walks the program once, opcode by
 * opcode, keeping the pickle machine's stack, mark stack and memo as plain
 * arrays of pointers to value nodes. Nodes are never freed individually
 * (the memo may share them, lists may even contain themselves): they come
 * from chunks that are released together, so no walk over the value graph
 * is ever needed and there is no recursion anywhere.
 *
 * A state_dict as torch.save() writes it (protocol 2) looks like
 *
 *   GLOBAL 'collections OrderedDict'  EMPTY_TUPLE  REDUCE       -> {}
 *   MARK
 *     'name'  GLOBAL 'torch._utils _rebuild_tensor_v2'
 *       ( ('storage', GLOBAL 'torch FloatStorage', '0', 'cpu', 8) BINPERSID,
 *         offset, (sizes), (strides), False, OrderedDict() )  REDUCE
 *     ...
 *   SETITEMS
 *   {'_metadata' ...}  BUILD  STOP
 *
 * with BINPUT/BINGET memo traffic in between. Limits: the memo index must
 * be below the program's length (torch numbers memo slots from 0, one per
 * BINPUT, each at least two bytes), marks nest at most MAX_MARKS deep, and
 * every length is checked against the bytes that remain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "nn/io/pickle.h"

#define MAX_MARKS 64
#define MAX_GLOBAL_LINE 256
#define CHUNK_OBJS 512
/* numel * element size must fit in int64 with room to spare. */
#define MAX_NUMEL (INT64_MAX / 16)

enum kind {
    K_NONE,
    K_BOOL,
    K_INT,
    K_FLOAT,
    K_STR,
    K_TUPLE,
    K_LIST,
    K_DICT,
    K_GLOBAL,
    K_STORAGE,
    K_TENSOR
};

enum global_id {
    G_ORDERED_DICT,
    G_REBUILD_TENSOR_V2,
    G_FLOAT_STORAGE,
    G_HALF_STORAGE,
    G_BF16_STORAGE
};

typedef struct pobj pobj;
struct pobj {
    int kind;
    int global;    /* K_GLOBAL: enum global_id */
    int64_t i;     /* K_BOOL, K_INT; index for K_STORAGE and K_TENSOR */
    char *s;       /* K_STR, NUL-terminated (no NUL inside) */
    pobj **items;  /* K_TUPLE, K_LIST: n; K_DICT: n pairs as 2n */
    size_t n, cap; /* items used and allocated */
};

typedef struct chunk {
    struct chunk *next;
    size_t used;
    pobj objs[CHUNK_OBJS];
} chunk;

typedef struct storage_ref {
    const char *key;
    nn_dtype dtype;
    int64_t numel;
} storage_ref;

typedef struct tensor_ref {
    size_t storage;
    int64_t offset;
    int ndim;
    int64_t shape[NN_MAX_DIMS];
    int64_t stride[NN_MAX_DIMS];
    int64_t numel;
} tensor_ref;

typedef struct reader {
    const uint8_t *buf;
    size_t len, pos, op_pos;
    pobj **stack;
    size_t sp, stack_cap;
    size_t marks[MAX_MARKS];
    int nmarks;
    pobj **memo;
    size_t memo_cap;
    size_t memo_used; /* distinct slots set, for MEMOIZE */
    chunk *chunks;
    storage_ref *storages;
    size_t n_storages, storages_cap;
    tensor_ref *tensors;
    size_t n_tensors, tensors_cap;
    char *err;
    size_t errlen;
} reader;

/* What nn_pickle_state_dict.priv points at: the whole reader. */

static int fail(reader *r, const char *what)
{
    set_err(r->err, r->errlen, "pickle: %s (at byte %zu)", what, r->op_pos);
    return SAMSEP_ERR_FORMAT;
}

static int nomem(reader *r)
{
    set_err(r->err, r->errlen, "out of memory reading the pickle");
    return SAMSEP_ERR_NOMEM;
}

/* Grow *arr (of elements of size `size`) to hold at least `need`. */
static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
    size_t ncap;
    void *p;

    if (need <= *cap)
        return 0;
    ncap = *cap < 16 ? 16 : *cap;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / size)
            return -1;
        ncap *= 2;
    }
    p = realloc(*arr, ncap * size);
    if (p == NULL)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

static pobj *new_obj(reader *r, int kind)
{
    pobj *o;

    if (r->chunks == NULL || r->chunks->used == CHUNK_OBJS) {
        chunk *c = malloc(sizeof *c);

        if (c == NULL)
            return NULL;
        c->next = r->chunks;
        c->used = 0;
        r->chunks = c;
    }
    o = &r->chunks->objs[r->chunks->used++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    return o;
}

static int push(reader *r, pobj *o)
{
    if (o == NULL)
        return nomem(r);
    if (grow((void **)&r->stack, &r->stack_cap, r->sp + 1, sizeof *r->stack) != 0)
        return nomem(r);
    r->stack[r->sp++] = o;
    return 0;
}

/* The stack above the innermost mark, for the opcodes that need one. */
static size_t mark_base(const reader *r)
{
    return r->nmarks > 0 ? r->marks[r->nmarks - 1] : 0;
}

static pobj *pop(reader *r)
{
    if (r->sp == 0 || r->sp <= mark_base(r))
        return NULL;
    return r->stack[--r->sp];
}

static pobj *top(reader *r)
{
    if (r->sp == 0 || r->sp <= mark_base(r))
        return NULL;
    return r->stack[r->sp - 1];
}

static int append_item(reader *r, pobj *o, pobj *item)
{
    if (grow((void **)&o->items, &o->cap, o->n + 1, sizeof *o->items) != 0)
        return nomem(r);
    o->items[o->n++] = item;
    return 0;
}

static int need(reader *r, size_t n)
{
    if (r->len - r->pos < n)
        return fail(r, "truncated program");
    return 0;
}

static uint32_t rd_le(const uint8_t *p, int n)
{
    uint32_t v = 0;
    int k;

    for (k = n - 1; k >= 0; k--)
        v = (v << 8) | p[k];
    return v;
}

static int op_string(reader *r, size_t lenbytes)
{
    size_t n;
    pobj *o;

    if (need(r, lenbytes) != 0)
        return SAMSEP_ERR_FORMAT;
    n = rd_le(r->buf + r->pos, (int)lenbytes);
    r->pos += lenbytes;
    if (need(r, n) != 0)
        return SAMSEP_ERR_FORMAT;
    if (memchr(r->buf + r->pos, 0, n) != NULL)
        return fail(r, "string holds a NUL byte");
    o = new_obj(r, K_STR);
    if (o == NULL || (o->s = malloc(n + 1)) == NULL)
        return nomem(r);
    memcpy(o->s, r->buf + r->pos, n);
    o->s[n] = '\0';
    r->pos += n;
    return push(r, o);
}

/* Copy `s` (n bytes) for an error message, non-printable bytes as '?'. */
static void printable(char *dst, size_t dstlen, const char *s, size_t n)
{
    size_t k;

    if (n >= dstlen)
        n = dstlen - 1;
    for (k = 0; k < n; k++)
        dst[k] = s[k] >= 0x20 && s[k] < 0x7f ? s[k] : '?';
    dst[n] = '\0';
}

static int push_global(reader *r, const char *mod, size_t mlen, const char *name,
                       size_t nlen)
{
    static const struct {
        const char *mod, *name;
        int id;
    } allowed[] = {
        { "collections", "OrderedDict", G_ORDERED_DICT },
        { "torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2 },
        { "torch", "FloatStorage", G_FLOAT_STORAGE },
        { "torch", "HalfStorage", G_HALF_STORAGE },
        { "torch", "BFloat16Storage", G_BF16_STORAGE },
        /* Older torch named the storage of a CUDA tensor by its class. */
        { "torch.cuda", "FloatStorage", G_FLOAT_STORAGE },
        { "torch.cuda", "HalfStorage", G_HALF_STORAGE },
        { "torch.cuda", "BFloat16Storage", G_BF16_STORAGE },
    };
    char m[80], n[80];
    size_t k;
    pobj *o;

    for (k = 0; k < sizeof allowed / sizeof allowed[0]; k++) {
        if (strlen(allowed[k].mod) == mlen && memcmp(allowed[k].mod, mod, mlen) == 0 &&
            strlen(allowed[k].name) == nlen && memcmp(allowed[k].name, name, nlen) == 0) {
            o = new_obj(r, K_GLOBAL);
            if (o == NULL)
                return nomem(r);
            o->global = allowed[k].id;
            return push(r, o);
        }
    }
    printable(m, sizeof m, mod, mlen);
    printable(n, sizeof n, name, nlen);
    set_err(r->err, r->errlen,
            "pickle refers to the global '%s.%s' (at byte "
            "%zu), which is not allowed: a state_dict of float32/float16/"
            "bfloat16 tensors needs only collections.OrderedDict, "
            "torch._utils._rebuild_tensor_v2 and torch.FloatStorage/"
            "HalfStorage/BFloat16Storage",
            m, n, r->op_pos);
    return SAMSEP_ERR_FORMAT;
}

/* GLOBAL: "module\nname\n". */
static int op_global(reader *r)
{
    const char *line[2];
    size_t n[2];
    int k;

    for (k = 0; k < 2; k++) {
        size_t avail = r->len - r->pos;
        const uint8_t *nl = memchr(r->buf + r->pos, '\n',
                                   avail < MAX_GLOBAL_LINE ? avail : MAX_GLOBAL_LINE);

        if (nl == NULL)
            return fail(r, "GLOBAL without a name line");
        line[k] = (const char *)(r->buf + r->pos);
        n[k] = (size_t)(nl - (r->buf + r->pos));
        r->pos += n[k] + 1;
    }
    return push_global(r, line[0], n[0], line[1], n[1]);
}

/* STACK_GLOBAL (protocol 4): module and name strings on the stack. */
static int op_stack_global(reader *r)
{
    pobj *name = pop(r), *mod = pop(r);

    if (name == NULL || mod == NULL || name->kind != K_STR || mod->kind != K_STR)
        return fail(r, "STACK_GLOBAL needs two strings");
    return push_global(r, mod->s, strlen(mod->s), name->s, strlen(name->s));
}

static int op_int(reader *r, int64_t v)
{
    pobj *o = new_obj(r, K_INT);

    if (o == NULL)
        return nomem(r);
    o->i = v;
    return push(r, o);
}

/* LONG1: a little-endian two's-complement integer of up to 8 bytes. */
static int op_long1(reader *r)
{
    uint64_t u = 0;
    size_t n, k;

    if (need(r, 1) != 0)
        return SAMSEP_ERR_FORMAT;
    n = r->buf[r->pos++];
    if (n > 8)
        return fail(r, "integer wider than 64 bits");
    if (need(r, n) != 0)
        return SAMSEP_ERR_FORMAT;
    for (k = 0; k < n; k++)
        u |= (uint64_t)r->buf[r->pos + k] << (8 * k);
    if (n > 0 && n < 8 && (r->buf[r->pos + n - 1] & 0x80))
        u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    r->pos += n;
    /* Two's complement reinterpretation without implementation-defined
     * conversion of out-of-range values. */
    return op_int(r, u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1);
}

static int op_tuple_n(reader *r, size_t n)
{
    pobj *o = new_obj(r, K_TUPLE);
    size_t k;

    if (o == NULL)
        return nomem(r);
    if (r->sp < n || r->sp - n < mark_base(r))
        return fail(r, "tuple opcode with too few items on the stack");
    if (n > 0) {
        o->items = malloc(n * sizeof *o->items);
        if (o->items == NULL)
            return nomem(r);
        for (k = 0; k < n; k++)
            o->items[k] = r->stack[r->sp - n + k];
        o->n = o->cap = n;
    }
    r->sp -= n;
    return push(r, o);
}

/* Pop the items above the innermost mark, and the mark. */
static int pop_mark(reader *r, size_t *base)
{
    if (r->nmarks == 0)
        return fail(r, "opcode needs a MARK");
    *base = r->marks[--r->nmarks];
    return 0;
}

static int op_tuple(reader *r)
{
    size_t base, n;
    int rc = pop_mark(r, &base);

    if (rc != 0)
        return rc;
    n = r->sp - base;
    /* The items are above the (now popped) mark, so op_tuple_n finds them. */
    return op_tuple_n(r, n);
}

static int op_setitems(reader *r, int with_mark)
{
    size_t base, k;
    pobj *d;
    int rc;

    if (with_mark) {
        rc = pop_mark(r, &base);
        if (rc != 0)
            return rc;
    } else {
        if (r->sp < 2 || r->sp - 2 < mark_base(r))
            return fail(r, "SETITEM with too few items on the stack");
        base = r->sp - 2;
    }
    if ((r->sp - base) % 2 != 0)
        return fail(r, "SETITEMS with an odd number of items");
    if (base == 0 || base <= mark_base(r))
        return fail(r, "SETITEMS without a dict");
    d = r->stack[base - 1];
    if (d->kind != K_DICT)
        return fail(r, "SETITEM(S) on something other than a dict");
    for (k = base; k < r->sp; k++) {
        rc = append_item(r, d, r->stack[k]);
        if (rc != 0)
            return rc;
    }
    r->sp = base;
    return 0;
}

static int op_appends(reader *r, int with_mark)
{
    size_t base, k;
    pobj *l;
    int rc;

    if (with_mark) {
        rc = pop_mark(r, &base);
        if (rc != 0)
            return rc;
    } else {
        if (r->sp < 1 || r->sp - 1 < mark_base(r))
            return fail(r, "APPEND with an empty stack");
        base = r->sp - 1;
    }
    if (base == 0 || base <= mark_base(r))
        return fail(r, "APPENDS without a list");
    l = r->stack[base - 1];
    if (l->kind != K_LIST)
        return fail(r, "APPEND(S) on something other than a list");
    for (k = base; k < r->sp; k++) {
        rc = append_item(r, l, r->stack[k]);
        if (rc != 0)
            return rc;
    }
    r->sp = base;
    return 0;
}

static int memo_index_ok(reader *r, uint32_t idx)
{
    if ((size_t)idx >= r->len)
        return fail(r, "memo index out of range");
    return 0;
}

static int op_put(reader *r, uint32_t idx)
{
    pobj *o = top(r);
    size_t old = r->memo_cap, k;

    if (o == NULL)
        return fail(r, "memo store with an empty stack");
    if (memo_index_ok(r, idx) != 0)
        return SAMSEP_ERR_FORMAT;
    if (grow((void **)&r->memo, &r->memo_cap, (size_t)idx + 1, sizeof *r->memo) != 0)
        return nomem(r);
    for (k = old; k < r->memo_cap; k++)
        r->memo[k] = NULL;
    if (r->memo[idx] == NULL)
        r->memo_used++;
    r->memo[idx] = o;
    return 0;
}

static int op_get(reader *r, uint32_t idx)
{
    if (memo_index_ok(r, idx) != 0)
        return SAMSEP_ERR_FORMAT;
    if ((size_t)idx >= r->memo_cap || r->memo[idx] == NULL)
        return fail(r, "memo fetch of an empty slot");
    return push(r, r->memo[idx]);
}

static int storage_dtype(int global, nn_dtype *dt)
{
    switch (global) {
    case G_FLOAT_STORAGE: *dt = NN_F32; return 0;
    case G_HALF_STORAGE: *dt = NN_F16; return 0;
    case G_BF16_STORAGE: *dt = NN_BF16; return 0;
    default: return -1;
    }
}

/* BINPERSID: ('storage', storage_type, key, location, numel). */
static int op_binpersid(reader *r)
{
    pobj *pid = pop(r), *o;
    storage_ref *s;
    nn_dtype dt;

    if (pid == NULL)
        return fail(r, "BINPERSID with an empty stack");
    if (pid->kind != K_TUPLE || pid->n != 5 || pid->items[0]->kind != K_STR ||
        strcmp(pid->items[0]->s, "storage") != 0 || pid->items[1]->kind != K_GLOBAL ||
        pid->items[2]->kind != K_STR || pid->items[3]->kind != K_STR ||
        pid->items[4]->kind != K_INT)
        return fail(r, "persistent id is not ('storage', type, key, location, "
                       "numel)");
    if (storage_dtype(pid->items[1]->global, &dt) != 0)
        return fail(r, "persistent id names a type that is not a storage");
    if (pid->items[4]->i < 0 || pid->items[4]->i > MAX_NUMEL)
        return fail(r, "storage size out of range");
    if (grow((void **)&r->storages, &r->storages_cap, r->n_storages + 1,
             sizeof *r->storages) != 0)
        return nomem(r);
    s = &r->storages[r->n_storages];
    s->key = pid->items[2]->s;
    s->dtype = dt;
    s->numel = pid->items[4]->i;
    o = new_obj(r, K_STORAGE);
    if (o == NULL)
        return nomem(r);
    o->i = (int64_t)r->n_storages++;
    return push(r, o);
}

/* Read a tuple of ints into v[]; its length into *n. */
static int int_tuple(const pobj *t, int64_t *v, int *n)
{
    size_t k;

    if (t->kind != K_TUPLE || t->n > NN_MAX_DIMS)
        return -1;
    for (k = 0; k < t->n; k++) {
        if (t->items[k]->kind != K_INT)
            return -1;
        v[k] = t->items[k]->i;
    }
    *n = (int)t->n;
    return 0;
}

/*
 * _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]). Bounds and layout are checked when the
 * tensor gets its name, so that the message can name it.
 */
static int rebuild_tensor(reader *r, const pobj *args)
{
    tensor_ref *t;
    pobj *o;
    int nstride, d;

    if (args->n != 6 && args->n != 7)
        return fail(r, "_rebuild_tensor_v2 with an unexpected number of "
                       "arguments");
    if (args->items[0]->kind != K_STORAGE || args->items[1]->kind != K_INT ||
        args->items[4]->kind != K_BOOL || args->items[5]->kind != K_DICT ||
        args->items[5]->n != 0 ||
        (args->n == 7 && args->items[6]->kind != K_DICT &&
         args->items[6]->kind != K_NONE))
        return fail(r, "_rebuild_tensor_v2 arguments are not (storage, int, "
                       "sizes, strides, bool, {}) as torch writes them");
    if (grow((void **)&r->tensors, &r->tensors_cap, r->n_tensors + 1,
             sizeof *r->tensors) != 0)
        return nomem(r);
    t = &r->tensors[r->n_tensors];
    memset(t, 0, sizeof *t);
    t->storage = (size_t)args->items[0]->i;
    t->offset = args->items[1]->i;
    if (int_tuple(args->items[2], t->shape, &t->ndim) != 0 ||
        int_tuple(args->items[3], t->stride, &nstride) != 0 || nstride != t->ndim)
        return fail(r, "tensor sizes/strides are not tuples of at most 8 "
                       "ints of equal length");
    t->numel = 1;
    for (d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return fail(r, "negative tensor size");
        if (t->shape[d] == 0)
            t->numel = 0;
        else if (t->numel > MAX_NUMEL / t->shape[d])
            return fail(r, "tensor has too many elements");
        else
            t->numel *= t->shape[d];
    }
    if (t->numel == 0) {
        /* An empty tensor: still reject absurd sizes in the other dims. */
        for (d = 0; d < t->ndim; d++)
            if (t->shape[d] > MAX_NUMEL)
                return fail(r, "tensor size out of range");
    }
    o = new_obj(r, K_TENSOR);
    if (o == NULL)
        return nomem(r);
    o->i = (int64_t)r->n_tensors++;
    return push(r, o);
}

static int op_reduce(reader *r)
{
    pobj *args = pop(r), *fn = pop(r), *o;

    if (args == NULL || fn == NULL)
        return fail(r, "REDUCE with too few items on the stack");
    if (fn->kind != K_GLOBAL || args->kind != K_TUPLE)
        return fail(r, "REDUCE of something other than an allowed global");
    switch (fn->global) {
    case G_ORDERED_DICT:
        if (args->n != 0)
            return fail(r, "OrderedDict() with arguments");
        o = new_obj(r, K_DICT);
        if (o == NULL)
            return nomem(r);
        return push(r, o);
    case G_REBUILD_TENSOR_V2: return rebuild_tensor(r, args);
    default: return fail(r, "REDUCE of a storage type");
    }
}

/* BUILD: only the OrderedDict's `_metadata` attribute dict, ignored. */
static int op_build(reader *r)
{
    pobj *state = pop(r), *o = top(r);

    if (state == NULL || o == NULL)
        return fail(r, "BUILD with too few items on the stack");
    if (o->kind != K_DICT || state->kind != K_DICT)
        return fail(r, "BUILD of something other than a dict's attributes");
    return 0;
}

static int run(reader *r, pobj **result)
{
    int rc = 0;

    while (rc == 0) {
        uint8_t op;

        r->op_pos = r->pos;
        if (r->pos >= r->len)
            return fail(r, "program ends without STOP");
        op = r->buf[r->pos++];
        switch (op) {
        case 0x80: /* PROTO */
            if ((rc = need(r, 1)) == 0 && r->buf[r->pos++] > 5)
                rc = fail(r, "unsupported protocol");
            break;
        case 0x95: /* FRAME (protocol 4): a length hint, skipped */
            if ((rc = need(r, 8)) == 0)
                r->pos += 8;
            break;
        case '.': /* STOP */
            *result = pop(r);
            if (*result == NULL || r->sp != 0 || r->nmarks != 0)
                return fail(r, "STOP with a stack that does not hold exactly "
                               "one value");
            if (r->pos != r->len)
                return fail(r, "bytes after STOP");
            return 0;
        case '(': /* MARK */
            if (r->nmarks == MAX_MARKS)
                return fail(r, "marks nested too deeply");
            r->marks[r->nmarks++] = r->sp;
            break;
        case '}': /* EMPTY_DICT */ rc = push(r, new_obj(r, K_DICT)); break;
        case ']': /* EMPTY_LIST */ rc = push(r, new_obj(r, K_LIST)); break;
        case ')': /* EMPTY_TUPLE */ rc = op_tuple_n(r, 0); break;
        case 't': /* TUPLE */ rc = op_tuple(r); break;
        case 0x85: /* TUPLE1 */
        case 0x86: /* TUPLE2 */
        case 0x87: /* TUPLE3 */ rc = op_tuple_n(r, (size_t)(op - 0x84)); break;
        case 'N': /* NONE */ rc = push(r, new_obj(r, K_NONE)); break;
        case 0x88:   /* NEWTRUE */
        case 0x89: { /* NEWFALSE */
            pobj *o = new_obj(r, K_BOOL);

            if (o != NULL)
                o->i = op == 0x88;
            rc = push(r, o);
            break;
        }
        case 'K': /* BININT1 */
            if ((rc = need(r, 1)) == 0) {
                rc = op_int(r, r->buf[r->pos]);
                r->pos += 1;
            }
            break;
        case 'M': /* BININT2 */
            if ((rc = need(r, 2)) == 0) {
                rc = op_int(r, rd_le(r->buf + r->pos, 2));
                r->pos += 2;
            }
            break;
        case 'J': /* BININT: signed 32-bit */
            if ((rc = need(r, 4)) == 0) {
                uint32_t u = rd_le(r->buf + r->pos, 4);

                rc = op_int(r, u <= INT32_MAX ? (int64_t)u
                                              : (int64_t)u - ((int64_t)1 << 32));
                r->pos += 4;
            }
            break;
        case 0x8a: /* LONG1 */ rc = op_long1(r); break;
        case 'G': { /* BINFLOAT: the value is never used, only kept */
            pobj *o;

            if ((rc = need(r, 8)) == 0) {
                r->pos += 8;
                o = new_obj(r, K_FLOAT);
                rc = push(r, o);
            }
            break;
        }
        case 'X': /* BINUNICODE */ rc = op_string(r, 4); break;
        case 0x8c: /* SHORT_BINUNICODE */ rc = op_string(r, 1); break;
        case 'c': /* GLOBAL */ rc = op_global(r); break;
        case 0x93: /* STACK_GLOBAL */ rc = op_stack_global(r); break;
        case 'q': /* BINPUT */
            if ((rc = need(r, 1)) == 0)
                rc = op_put(r, r->buf[r->pos++]);
            break;
        case 'r': /* LONG_BINPUT */
            if ((rc = need(r, 4)) == 0) {
                rc = op_put(r, rd_le(r->buf + r->pos, 4));
                r->pos += 4;
            }
            break;
        case 0x94: /* MEMOIZE */
            /* memo[len(memo)]; op_put bounds the index. */
            rc = op_put(r,
                        r->memo_used < UINT32_MAX ? (uint32_t)r->memo_used : UINT32_MAX);
            break;
        case 'h': /* BINGET */
            if ((rc = need(r, 1)) == 0)
                rc = op_get(r, r->buf[r->pos++]);
            break;
        case 'j': /* LONG_BINGET */
            if ((rc = need(r, 4)) == 0) {
                rc = op_get(r, rd_le(r->buf + r->pos, 4));
                r->pos += 4;
            }
            break;
        case 'Q': /* BINPERSID */ rc = op_binpersid(r); break;
        case 'R': /* REDUCE */ rc = op_reduce(r); break;
        case 'b': /* BUILD */ rc = op_build(r); break;
        case 's': /* SETITEM */ rc = op_setitems(r, 0); break;
        case 'u': /* SETITEMS */ rc = op_setitems(r, 1); break;
        case 'a': /* APPEND */ rc = op_appends(r, 0); break;
        case 'e': /* APPENDS */ rc = op_appends(r, 1); break;
        default: {
            char msg[64];

            snprintf(msg, sizeof msg, "opcode 0x%02x is not allowed", op);
            return fail(r, msg);
        }
        }
    }
    return rc;
}

static void reader_free(reader *r)
{
    chunk *c = r->chunks;

    while (c != NULL) {
        chunk *next = c->next;
        size_t k;

        for (k = 0; k < c->used; k++) {
            free(c->objs[k].s);
            free(c->objs[k].items);
        }
        free(c);
        c = next;
    }
    free(r->stack);
    free(r->memo);
    free(r->storages);
    free(r->tensors);
    free(r);
}

/* Check a tensor's layout and bounds, and describe it as the result. */
static int finish_tensor(reader *r, const char *name, const tensor_ref *t,
                         nn_pickle_tensor *out)
{
    const storage_ref *s = &r->storages[t->storage];
    int64_t expect = 1;
    int d;

    for (d = t->ndim - 1; d >= 0 && t->numel > 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != expect) {
            set_err(r->err, r->errlen,
                    "tensor '%s' is not contiguous in C "
                    "order (dim %d: size %lld, stride %lld, expected %lld)",
                    name, d, (long long)t->shape[d], (long long)t->stride[d],
                    (long long)expect);
            return SAMSEP_ERR_FORMAT;
        }
        expect *= t->shape[d];
    }
    if (t->offset < 0 || t->offset > s->numel || t->numel > s->numel - t->offset) {
        set_err(r->err, r->errlen,
                "tensor '%s' (offset %lld, %lld elements) "
                "does not fit its storage '%s' of %lld elements",
                name, (long long)t->offset, (long long)t->numel, s->key,
                (long long)s->numel);
        return SAMSEP_ERR_FORMAT;
    }
    out->name = name;
    out->storage_key = s->key;
    out->storage_numel = s->numel;
    out->offset = t->offset;
    out->dtype = s->dtype;
    out->ndim = t->ndim;
    memcpy(out->shape, t->shape, sizeof out->shape);
    out->numel = t->numel;
    return 0;
}

int nn_pickle_read_state_dict(const uint8_t *buf, size_t len, nn_pickle_state_dict **out,
                              char *err, size_t errlen)
{
    reader *r;
    pobj *result = NULL;
    nn_pickle_state_dict *sd = NULL;
    size_t k;
    int rc;

    *out = NULL;
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        set_err(err, errlen, "out of memory reading the pickle");
        return SAMSEP_ERR_NOMEM;
    }
    r->buf = buf;
    r->len = len;
    r->err = err;
    r->errlen = errlen;
    rc = run(r, &result);
    if (rc != 0)
        goto out;
    if (result->kind != K_DICT) {
        rc = fail(r, "the pickled object is not a dict (state_dict)");
        goto out;
    }
    sd = calloc(1, sizeof *sd);
    if (sd == NULL ||
        (result->n > 0 &&
         (sd->tensors = calloc(result->n / 2, sizeof *sd->tensors)) == NULL)) {
        rc = nomem(r);
        goto out;
    }
    for (k = 0; k + 1 < result->n; k += 2) {
        const pobj *key = result->items[k], *val = result->items[k + 1];

        if (key->kind != K_STR || val->kind != K_TENSOR) {
            set_err(err, errlen,
                    "entry %zu of the state_dict is not a "
                    "(name, tensor) pair%s%s",
                    k / 2, key->kind == K_STR ? ": " : "",
                    key->kind == K_STR ? key->s : "");
            rc = SAMSEP_ERR_FORMAT;
            goto out;
        }
        rc = finish_tensor(r, key->s, &r->tensors[val->i], &sd->tensors[k / 2]);
        if (rc != 0)
            goto out;
    }
    sd->count = result->n / 2;
    sd->priv = r;
    *out = sd;
    return 0;

out:
    if (sd != NULL) {
        free(sd->tensors);
        free(sd);
    }
    reader_free(r);
    return rc;
}

void nn_pickle_state_dict_free(nn_pickle_state_dict *sd)
{
    if (sd == NULL)
        return;
    if (sd->priv != NULL)
        reader_free(sd->priv);
    free(sd->tensors);
    free(sd);
}
