/*
 * samsep-model.c - a small tool for people who download model files.
 *
 *   samsep-model info PATH     list the tensors of a checkpoint.pt or
 *                              .safetensors file (or of the model file in
 *                              a folder) and say whether it is a complete
 *                              SAM-Audio model or T5 text encoder
 *   samsep-model tokenize ...  print T5 token ids of texts
 *   samsep-model t5 ...        run the T5 text encoder, write a .npy
 *   samsep-model separate ...  SAM-Audio on one whole file, with optional
 *                              span prompts, noise and watermark bits, to
 *                              .npy
 *   samsep-model --help        list the subcommands
 *
 * Each subcommand is a function `cmd_<name>(argc, argv)` (argv[0] is the
 * subcommand's name) in the table `commands`; adding one is adding a row.
 * The tool is a client of the library's model readers (src/nn/io/), nothing
 * more.
 *
 * Exit status: 0 done, 1 a file is missing, unreadable or not a model file
 * (named on stderr), 2 usage error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sndfile.h>

#include "engine/sam/sam.h"
#include "engine/sam/text/t5.h"
#include "engine/sam/text/tokenizer.h"
#include "nn/io/tensors.h"
#include "nn/nn.h"
#include "npy.h"
#include "npy_write.h"
#include "samsep.h"

#define EXIT_BAD_FILE 1
#define EXIT_USAGE 2

/* The file names looked for, in order, when PATH is a folder. */
static const char *const model_file_names[] = {
    "checkpoint.pt",
    "model.safetensors",
    "checkpoint.safetensors",
};

/*
 * SAM-Audio key families outside the transformer layers: the keys of the
 * reference checkpoint (samref full/checkpoint_keys.tsv, made by the
 * official code) with every all-digit path component written "N". A
 * complete model has at least one key of each family; sizes (layers,
 * channels) may differ from the reference, names may not.
 */
static const char *const sam_families[] = {
    "audio_codec.encoder.block.N.bias",
    "audio_codec.encoder.block.N.weight_g",
    "audio_codec.encoder.block.N.weight_v",
    "audio_codec.encoder.block.N.block.N.block.N.alpha",
    "audio_codec.encoder.block.N.block.N.block.N.bias",
    "audio_codec.encoder.block.N.block.N.block.N.weight_g",
    "audio_codec.encoder.block.N.block.N.block.N.weight_v",
    "audio_codec.encoder.block.N.block.N.alpha",
    "audio_codec.encoder.block.N.block.N.bias",
    "audio_codec.encoder.block.N.block.N.weight_g",
    "audio_codec.encoder.block.N.block.N.weight_v",
    "audio_codec.encoder.block.N.alpha",
    "audio_codec.quantizer.in_proj.bias",
    "audio_codec.quantizer.in_proj.weight_g",
    "audio_codec.quantizer.in_proj.weight_v",
    "audio_codec.quantizer.out_proj.bias",
    "audio_codec.quantizer.out_proj.weight_g",
    "audio_codec.quantizer.out_proj.weight_v",
    "audio_codec.decoder.model.N.bias",
    "audio_codec.decoder.model.N.weight_g",
    "audio_codec.decoder.model.N.weight_v",
    "audio_codec.decoder.model.N.block.N.alpha",
    "audio_codec.decoder.model.N.block.N.bias",
    "audio_codec.decoder.model.N.block.N.weight_g",
    "audio_codec.decoder.model.N.block.N.weight_v",
    "audio_codec.decoder.model.N.block.N.weight",
    "audio_codec.decoder.model.N.block.N.block.N.alpha",
    "audio_codec.decoder.model.N.block.N.block.N.bias",
    "audio_codec.decoder.model.N.block.N.block.N.weight_g",
    "audio_codec.decoder.model.N.block.N.block.N.weight_v",
    "audio_codec.decoder.model.N.block.N.block.N.weight",
    "audio_codec.decoder.wm_model.encoder_block.pre.N.alpha",
    "audio_codec.decoder.wm_model.encoder_block.pre.N.bias",
    "audio_codec.decoder.wm_model.encoder_block.pre.N.weight_g",
    "audio_codec.decoder.wm_model.encoder_block.pre.N.weight_v",
    "audio_codec.decoder.wm_model.encoder_block.pre.N.weight",
    "audio_codec.decoder.wm_model.encoder_block.post.N.lstm.weight_ih_l0",
    "audio_codec.decoder.wm_model.encoder_block.post.N.lstm.weight_hh_l0",
    "audio_codec.decoder.wm_model.encoder_block.post.N.lstm.bias_ih_l0",
    "audio_codec.decoder.wm_model.encoder_block.post.N.lstm.bias_hh_l0",
    "audio_codec.decoder.wm_model.encoder_block.post.N.lstm.weight_ih_l1",
    "audio_codec.decoder.wm_model.encoder_block.post.N.lstm.weight_hh_l1",
    "audio_codec.decoder.wm_model.encoder_block.post.N.lstm.bias_ih_l1",
    "audio_codec.decoder.wm_model.encoder_block.post.N.lstm.bias_hh_l1",
    "audio_codec.decoder.wm_model.encoder_block.post.N.weight",
    "audio_codec.decoder.wm_model.encoder_block.post.N.bias",
    "audio_codec.decoder.wm_model.msg_processor.msg_processor.weight",
    "audio_codec.decoder.wm_model.decoder_block.pre.N.weight",
    "audio_codec.decoder.wm_model.decoder_block.pre.N.bias",
    "audio_codec.decoder.wm_model.decoder_block.pre.N.lstm.weight_ih_l0",
    "audio_codec.decoder.wm_model.decoder_block.pre.N.lstm.weight_hh_l0",
    "audio_codec.decoder.wm_model.decoder_block.pre.N.lstm.bias_ih_l0",
    "audio_codec.decoder.wm_model.decoder_block.pre.N.lstm.bias_hh_l0",
    "audio_codec.decoder.wm_model.decoder_block.pre.N.lstm.weight_ih_l1",
    "audio_codec.decoder.wm_model.decoder_block.pre.N.lstm.weight_hh_l1",
    "audio_codec.decoder.wm_model.decoder_block.pre.N.lstm.bias_ih_l1",
    "audio_codec.decoder.wm_model.decoder_block.pre.N.lstm.bias_hh_l1",
    "audio_codec.decoder.wm_model.decoder_block.post.N.weight",
    "audio_codec.decoder.wm_model.decoder_block.post.N.bias",
    "transformer.final_layer_scale_shift_table",
    "transformer.norm.weight",
    "transformer.output.weight",
    "transformer.x_embedder.block.block1.groupnorm.weight",
    "transformer.x_embedder.block.block1.groupnorm.bias",
    "transformer.x_embedder.block.block1.project.weight",
    "transformer.x_embedder.block.block1.project.bias",
    "transformer.x_embedder.block.block2.groupnorm.weight",
    "transformer.x_embedder.block.block2.groupnorm.bias",
    "transformer.x_embedder.block.block2.project.weight",
    "transformer.x_embedder.block.block2.project.bias",
    "transformer.y_embedder.projection.w1.weight",
    "transformer.y_embedder.projection.w2.weight",
    "transformer.y_embedder.projection.w3.weight",
    "transformer.t_embedder.projection.w1.weight",
    "transformer.t_embedder.projection.w2.weight",
    "transformer.t_embedder.projection.w3.weight",
    "transformer.t_block.weight",
    "transformer.t_block.bias",
    "proj.weight",
    "proj.bias",
    "align_masked_video.gate",
    "align_masked_video.conv.weight",
    "align_masked_video.conv.bias",
    "align_masked_video.layer_norm.weight",
    "align_masked_video.layer_norm.bias",
    "embed_anchors.gate",
    "embed_anchors.embed.weight",
    "embed_anchors.proj.weight",
    "memory_proj.weight",
    "memory_proj.bias",
};

/* Keys every transformer.layers.<n>. must have. */
static const char *const sam_layer_keys[] = {
    "scale_shift_table",
    "attention.wq.weight",
    "attention.wk.weight",
    "attention.wv.weight",
    "attention.wo.weight",
    "attention.q_norm.weight",
    "attention.k_norm.weight",
    "feed_forward.w1.weight",
    "feed_forward.w2.weight",
    "feed_forward.w3.weight",
    "attention_norm.weight",
    "ffn_norm.weight",
    "cross_attention.wq.weight",
    "cross_attention.wk.weight",
    "cross_attention.wv.weight",
    "cross_attention.wo.weight",
    "cross_attention.q_norm.weight",
    "cross_attention.k_norm.weight",
};

/* HuggingFace T5EncoderModel: the keys outside the blocks, those of every
 * encoder.block.<n>., and those only block 0 has. */
static const char *const t5_keys[] = {
    "shared.weight",
    "encoder.final_layer_norm.weight",
    "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
};
static const char *const t5_block_keys[] = {
    "layer.0.SelfAttention.q.weight",   "layer.0.SelfAttention.k.weight",
    "layer.0.SelfAttention.v.weight",   "layer.0.SelfAttention.o.weight",
    "layer.0.layer_norm.weight",        "layer.1.DenseReluDense.wi.weight",
    "layer.1.DenseReluDense.wo.weight", "layer.1.layer_norm.weight",
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_SHOWN_MISSING 5

/* ---- shared helpers ---------------------------------------------------- */

static int is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * The model file PATH names: PATH itself, or the first of model_file_names
 * inside the folder PATH. Returns 0 with out filled, or prints why not.
 */
static int resolve_model_file(const char *path, char *out, size_t outlen)
{
    size_t i;

    if (!is_dir(path)) {
        if (snprintf(out, outlen, "%s", path) >= (int)outlen) {
            fprintf(stderr, "samsep-model: path too long: %s\n", path);
            return -1;
        }
        return 0;
    }
    for (i = 0; i < N_ELEMS(model_file_names); i++) {
        if (snprintf(out, outlen, "%s/%s", path, model_file_names[i]) >= (int)outlen) {
            fprintf(stderr, "samsep-model: path too long: %s\n", path);
            return -1;
        }
        if (is_file(out))
            return 0;
    }
    fprintf(stderr,
            "samsep-model: %s: folder holds none of checkpoint.pt, "
            "model.safetensors, checkpoint.safetensors\n",
            path);
    return -1;
}

/* "a.12.b" -> "a.N.b": every all-digit dot-separated component becomes N. */
static void key_family(const char *name, char *out, size_t outlen)
{
    size_t o = 0;
    const char *p = name;

    while (*p != '\0' && o + 2 < outlen) {
        const char *q = p;

        while (*q >= '0' && *q <= '9')
            q++;
        if (q > p && (*q == '.' || *q == '\0') && (p == name || p[-1] == '.')) {
            out[o++] = 'N';
            p = q;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

/* Largest n with a key "<prefix><n>." (-1 when none). */
static long max_index(const nn_tensor_file *tf, const char *prefix)
{
    size_t plen = strlen(prefix);
    long best = -1;
    int i;

    for (i = 0; i < nn_tensor_file_count(tf); i++) {
        const char *name = nn_tensor_file_at(tf, i)->name;
        char *end;
        long v;

        if (strncmp(name, prefix, plen) != 0 || name[plen] < '0' || name[plen] > '9')
            continue;
        errno = 0;
        v = strtol(name + plen, &end, 10);
        if (errno == 0 && *end == '.' && v > best && v < 1000000)
            best = v;
    }
    return best;
}

typedef struct missing_list {
    int count;
    char shown[MAX_SHOWN_MISSING][512];
} missing_list;

static void note_missing(missing_list *m, const char *what)
{
    if (m->count < MAX_SHOWN_MISSING)
        snprintf(m->shown[m->count], sizeof m->shown[0], "%s", what);
    m->count++;
}

static void print_missing(const missing_list *m)
{
    int i;

    for (i = 0; i < m->count && i < MAX_SHOWN_MISSING; i++)
        printf("%s%s", i == 0 ? "" : ", ", m->shown[i]);
    if (m->count > MAX_SHOWN_MISSING)
        printf(" and %d more", m->count - MAX_SHOWN_MISSING);
}

static int has_prefix_key(const nn_tensor_file *tf, const char *prefix)
{
    size_t plen = strlen(prefix);
    int i;

    for (i = 0; i < nn_tensor_file_count(tf); i++)
        if (strncmp(nn_tensor_file_at(tf, i)->name, prefix, plen) == 0)
            return 1;
    return 0;
}

/* ---- info -------------------------------------------------------------- */

/* Missing SAM-Audio keys; *layers gets the transformer layer count. */
static void check_sam_audio(const nn_tensor_file *tf, missing_list *m, long *layers)
{
    size_t f, k;
    long n;
    int i;

    for (f = 0; f < N_ELEMS(sam_families); f++) {
        int found = 0;

        for (i = 0; i < nn_tensor_file_count(tf) && !found; i++) {
            char fam[512];

            key_family(nn_tensor_file_at(tf, i)->name, fam, sizeof fam);
            found = strcmp(fam, sam_families[f]) == 0;
        }
        if (!found) {
            char shown[512];
            const char *p = sam_families[f];
            size_t o = 0;

            /* Written with <n> for the index, as a reader expects it. */
            for (; *p != '\0' && o + 4 < sizeof shown; p++) {
                if (*p == 'N' && (p == sam_families[f] || p[-1] == '.') &&
                    (p[1] == '.' || p[1] == '\0')) {
                    memcpy(shown + o, "<n>", 3);
                    o += 3;
                } else {
                    shown[o++] = *p;
                }
            }
            shown[o] = '\0';
            note_missing(m, shown);
        }
    }
    *layers = max_index(tf, "transformer.layers.") + 1;
    if (*layers == 0)
        note_missing(m, "transformer.layers.0.*");
    for (n = 0; n < *layers; n++) {
        for (k = 0; k < N_ELEMS(sam_layer_keys); k++) {
            char key[256];

            snprintf(key, sizeof key, "transformer.layers.%ld.%s", n, sam_layer_keys[k]);
            if (nn_tensor_file_find(tf, key) == NULL)
                note_missing(m, key);
        }
    }
}

static void check_t5(const nn_tensor_file *tf, missing_list *m, long *blocks)
{
    size_t k;
    long n;

    for (k = 0; k < N_ELEMS(t5_keys); k++)
        if (nn_tensor_file_find(tf, t5_keys[k]) == NULL)
            note_missing(m, t5_keys[k]);
    *blocks = max_index(tf, "encoder.block.") + 1;
    for (n = 0; n < *blocks; n++) {
        for (k = 0; k < N_ELEMS(t5_block_keys); k++) {
            char key[256];

            snprintf(key, sizeof key, "encoder.block.%ld.%s", n, t5_block_keys[k]);
            if (nn_tensor_file_find(tf, key) == NULL)
                note_missing(m, key);
        }
    }
}

static void print_shape(const nn_tensor *t)
{
    int d;

    printf("[");
    for (d = 0; d < t->ndim; d++)
        printf("%s%lld", d == 0 ? "" : ", ", (long long)t->shape[d]);
    printf("]");
}

static void print_verdict(const nn_tensor_file *tf)
{
    missing_list sam = { 0 }, t5 = { 0 };
    long layers = 0, blocks = 0;
    int looks_sam = has_prefix_key(tf, "audio_codec.") ||
                    has_prefix_key(tf, "transformer.");
    int looks_t5 = has_prefix_key(tf, "encoder.block.") || has_prefix_key(tf, "shared.");

    check_sam_audio(tf, &sam, &layers);
    check_t5(tf, &t5, &blocks);
    if (sam.count == 0)
        printf("model: complete SAM-Audio model (%ld transformer layers)\n", layers);
    if (t5.count == 0 && blocks > 0) {
        const nn_tensor *emb = nn_tensor_file_find(tf, "shared.weight");

        printf("model: complete T5 text encoder (%ld blocks, vocabulary %lld, "
               "width %lld)\n",
               blocks, emb->ndim == 2 ? (long long)emb->shape[0] : 0LL,
               emb->ndim == 2 ? (long long)emb->shape[1] : 0LL);
    }
    if (sam.count == 0 || (t5.count == 0 && blocks > 0))
        return;
    if (looks_sam) {
        printf("model: incomplete SAM-Audio model, missing ");
        print_missing(&sam);
        printf("\n");
    }
    if (looks_t5) {
        printf("model: incomplete T5 text encoder, missing ");
        if (blocks == 0)
            note_missing(&t5, "encoder.block.0.*");
        print_missing(&t5);
        printf("\n");
    }
    if (!looks_sam && !looks_t5)
        printf("model: neither a SAM-Audio model nor a T5 text encoder (no "
               "audio_codec.*, transformer.*, encoder.* or shared.* keys)\n");
}

static int cmd_info(int argc, char **argv)
{
    char path[4096], err[1024];
    nn_tensor_file *tf;
    long long params = 0, bytes = 0;
    int i, width = 0, rc;

    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: samsep-model info PATH\n"
                        "  PATH: a checkpoint.pt or .safetensors file, or a folder "
                        "holding one\n");
        return EXIT_USAGE;
    }
    if (resolve_model_file(argv[1], path, sizeof path) != 0)
        return EXIT_BAD_FILE;
    rc = nn_tensor_file_open(path, &tf, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "samsep-model: %s\n", err);
        return EXIT_BAD_FILE;
    }
    printf("file: %s (%s)\n", path, nn_tensor_file_kind(tf));
    for (i = 0; i < nn_tensor_file_count(tf); i++) {
        int w = (int)strlen(nn_tensor_file_at(tf, i)->name);

        if (w > width)
            width = w;
    }
    for (i = 0; i < nn_tensor_file_count(tf); i++) {
        const nn_tensor *t = nn_tensor_file_at(tf, i);

        printf("  %-*s  %-4s  ", width, t->name, nn_dtype_name(t->dtype));
        print_shape(t);
        printf("\n");
        params += t->numel;
        bytes += t->numel * (long long)nn_dtype_size(t->dtype);
    }
    printf("tensors: %d\nparameters: %lld\nbytes: %lld (%.1f MiB)\n",
           nn_tensor_file_count(tf), params, bytes, (double)bytes / (1024.0 * 1024.0));
    print_verdict(tf);
    nn_tensor_file_close(tf);
    return 0;
}

/* ---- t5 ---------------------------------------------------------------- */

#define T5_CLI_MAX_LEN 512

static void t5_usage(void)
{
    fprintf(stderr,
            "usage: samsep-model t5 --model DIR [--tokenizer PATH] [--threads N]\n"
            "                       [--max-len N] -o OUT.npy TEXT...\n"
            "       samsep-model t5 --model DIR [--threads N] -o OUT.npy --ids 1,2,3 "
            "[--ids ...]\n"
            "  DIR: config.json + model.safetensors (or pytorch_model.bin) of a T5\n"
            "  encoder; the tokenizer (tokenizer.json or spiece.model) is looked for\n"
            "  in DIR unless --tokenizer names a file or folder. Each TEXT (or each\n"
            "  --ids list, used as given: no </s> is added) is one row; rows are\n"
            "  padded on the right to the longest. OUT.npy gets float32\n"
            "  [rows, longest, d_model] (last_hidden_state). --max-len (default\n"
            "  512) truncates tokenized texts, keeping </s>.\n");
}

/* Parse "1,2,3" into ids[0..cap); returns the count or -1. */
static int t5_parse_ids(const char *s, int32_t *ids, int cap)
{
    int n = 0;
    while (*s != '\0') {
        char *end;
        long v;
        errno = 0;
        v = strtol(s, &end, 10);
        if (end == s || errno != 0 || v < 0 || v > INT32_MAX || n >= cap ||
            (*end != ',' && *end != '\0'))
            return -1;
        ids[n++] = (int32_t)v;
        s = *end == ',' ? end + 1 : end;
        if (*end == ',' && *s == '\0')
            return -1;
    }
    return n;
}

static int cmd_t5(int argc, char **argv)
{
    const char *model = NULL, *tok_path = NULL, *outp = NULL;
    int threads = 0, max_len = T5_CLI_MAX_LEN, n_text = 0, n_ids = 0;
    int i, b, rows, L = 0, rc, status = EXIT_BAD_FILE, opts = 1;
    const char **texts = calloc((size_t)argc, sizeof *texts);
    const char **idlists = calloc((size_t)argc, sizeof *idlists);
    int32_t *rowids = NULL, *packed = NULL;
    int *lengths = NULL;
    float *out = NULL, *dout = NULL;
    nn_ctx *k = NULL;
    t5_model *enc = NULL;
    t5_state *run = NULL;
    t5_tokenizer *tk = NULL;
    char err[1024] = "";

    if (texts == NULL || idlists == NULL) {
        fprintf(stderr, "samsep-model: out of memory\n");
        goto done;
    }
    status = EXIT_USAGE;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (opts && strcmp(a, "--") == 0) {
            opts = 0;
        } else if (opts && strcmp(a, "--model") == 0 && has_val) {
            model = argv[++i];
        } else if (opts && strcmp(a, "--tokenizer") == 0 && has_val) {
            tok_path = argv[++i];
        } else if (opts && (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) &&
                   has_val) {
            outp = argv[++i];
        } else if (opts && strcmp(a, "--ids") == 0 && has_val) {
            idlists[n_ids++] = argv[++i];
        } else if (opts && (strcmp(a, "--threads") == 0 || strcmp(a, "--max-len") == 0) &&
                   has_val) {
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            int is_threads = strcmp(a, "--threads") == 0;
            if (*end != '\0' || end == argv[i + 1] || v < (is_threads ? 0 : 1) ||
                v > (is_threads ? 1024 : 1 << 20)) {
                fprintf(stderr, "samsep-model t5: bad value for %s: '%s'\n", a,
                        argv[i + 1]);
                goto done;
            }
            if (is_threads)
                threads = (int)v;
            else
                max_len = (int)v;
            i++;
        } else if (opts && strcmp(a, "--help") == 0) {
            t5_usage();
            status = 0;
            goto done;
        } else if (opts && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "samsep-model t5: unknown option or missing value: %s\n", a);
            t5_usage();
            goto done;
        } else {
            texts[n_text++] = a;
        }
    }
    if (model == NULL || outp == NULL || (n_text == 0) == (n_ids == 0)) {
        if (n_text != 0 && n_ids != 0)
            fprintf(stderr, "samsep-model t5: give TEXT arguments or --ids, not both\n");
        t5_usage();
        goto done;
    }
    rows = n_text + n_ids;
    rowids = calloc((size_t)rows * (size_t)max_len, sizeof *rowids);
    lengths = calloc((size_t)rows, sizeof *lengths);
    if (rowids == NULL || lengths == NULL) {
        fprintf(stderr, "samsep-model: out of memory\n");
        status = EXIT_BAD_FILE;
        goto done;
    }

    if (n_text > 0) {
        rc = t5_tokenizer_open(tok_path != NULL ? tok_path : model, &tk, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "samsep-model t5: %s\n%s", err,
                    tok_path == NULL ? "  (name the tokenizer with --tokenizer PATH, or "
                                       "give token ids with --ids)\n"
                                     : "");
            status = EXIT_BAD_FILE;
            goto done;
        }
        for (b = 0; b < rows; b++) {
            int n = t5_tokenizer_encode(tk, texts[b], rowids + (size_t)b * max_len,
                                        max_len, err, sizeof err);
            if (n < 1) {
                fprintf(stderr, "samsep-model t5: text %d: %s\n", b + 1, err);
                goto done;
            }
            lengths[b] = n;
        }
    } else {
        for (b = 0; b < rows; b++) {
            int n = t5_parse_ids(idlists[b], rowids + (size_t)b * max_len, max_len);
            if (n < 1) {
                fprintf(stderr,
                        "samsep-model t5: --ids '%s': expected 1 to %d "
                        "comma-separated ids >= 0\n",
                        idlists[b], max_len);
                goto done;
            }
            lengths[b] = n;
        }
    }
    for (b = 0; b < rows; b++)
        if (lengths[b] > L)
            L = lengths[b];
    packed = calloc((size_t)rows * (size_t)L, sizeof *packed); /* pad id 0 */
    if (packed == NULL) {
        fprintf(stderr, "samsep-model: out of memory\n");
        status = EXIT_BAD_FILE;
        goto done;
    }
    for (b = 0; b < rows; b++)
        memcpy(packed + (size_t)b * L, rowids + (size_t)b * max_len,
               (size_t)lengths[b] * sizeof *packed);

    {
        nn_params p = { NULL, threads };
        rc = nn_ctx_create(&p, &k, err, sizeof err);
    }
    if (rc == 0)
        rc = t5_model_open(model, k, &enc, err, sizeof err);
    if (rc == 0)
        rc = t5_state_create(enc, k, &run, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "samsep-model t5: %s\n", err);
        status = EXIT_BAD_FILE;
        goto done;
    }
    out = malloc((size_t)rows * (size_t)L * (size_t)t5_model_dim(enc) * sizeof *out);
    dout = nn_alloc_f32(k, (int64_t)rows * L * t5_model_dim(enc));
    if (out == NULL || dout == NULL) {
        fprintf(stderr, "samsep-model: out of memory\n");
        status = EXIT_BAD_FILE;
        goto done;
    }
    rc = t5_encode(run, packed, lengths, rows, L, dout, err, sizeof err);
    if (rc == 0)
        rc = nn_download(k, out, dout,
                         (size_t)rows * (size_t)L * (size_t)t5_model_dim(enc) *
                             sizeof *out);
    if (rc != 0) {
        fprintf(stderr, "samsep-model t5: %s\n", err);
        status = rc == SAMSEP_ERR_INVALID ? EXIT_USAGE : EXIT_BAD_FILE;
        goto done;
    }
    {
        int64_t shape[3];
        shape[0] = rows;
        shape[1] = L;
        shape[2] = t5_model_dim(enc);
        rc = npy_save(outp, out, shape, 3, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "samsep-model t5: %s\n", err);
            status = EXIT_BAD_FILE;
            goto done;
        }
        printf("%s: float32 [%d, %d, %d], tokens per row:", outp, rows, L, (int)shape[2]);
        for (b = 0; b < rows; b++)
            printf(" %d", lengths[b]);
        printf("\n");
    }
    status = 0;
done:
    nn_free(k, dout);
    t5_state_destroy(run);
    t5_model_close(enc);
    nn_ctx_destroy(k);
    t5_tokenizer_close(tk);
    free(texts);
    free(idlists);
    free(rowids);
    free(packed);
    free(lengths);
    free(out);
    return status;
}

/* ---- tokenize ---------------------------------------------------------- */

static void tokenize_usage(void)
{
    fprintf(stderr,
            "usage: samsep-model tokenize (--spm FILE | --tokenizer PATH) [--max-len N]\n"
            "                             TEXT...\n"
            "  Prints one line per TEXT: its T5 token ids, space separated, </s>\n"
            "  included, at most N of them (default %d, as SAM-Audio). FILE is a\n"
            "  spiece.model; PATH a tokenizer.json, a spiece.model or a folder.\n",
            T5_TOKENIZER_MAX_LEN);
}

static int cmd_tokenize(int argc, char **argv)
{
    const char *path = NULL;
    int max_len = T5_TOKENIZER_MAX_LEN, n_text = 0, opts = 1, status = EXIT_USAGE;
    int i, k, n;
    const char **texts = calloc((size_t)argc, sizeof *texts);
    int32_t *ids = NULL;
    t5_tokenizer *tk = NULL;
    char err[1024] = "";

    if (texts == NULL) {
        fprintf(stderr, "samsep-model: out of memory\n");
        return EXIT_BAD_FILE;
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (opts && strcmp(a, "--") == 0) {
            opts = 0;
        } else if (opts && (strcmp(a, "--spm") == 0 || strcmp(a, "--tokenizer") == 0) &&
                   has_val) {
            if (path != NULL) {
                fprintf(stderr, "samsep-model tokenize: give one --spm or --tokenizer\n");
                goto done;
            }
            path = argv[++i];
        } else if (opts && strcmp(a, "--max-len") == 0 && has_val) {
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            if (*end != '\0' || end == argv[i + 1] || v < 1 || v > (1 << 20)) {
                fprintf(stderr, "samsep-model tokenize: bad value for --max-len: '%s'\n",
                        argv[i + 1]);
                goto done;
            }
            max_len = (int)v;
            i++;
        } else if (opts && strcmp(a, "--help") == 0) {
            tokenize_usage();
            status = 0;
            goto done;
        } else if (opts && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr,
                    "samsep-model tokenize: unknown option or missing value: %s\n", a);
            tokenize_usage();
            goto done;
        } else {
            texts[n_text++] = a;
        }
    }
    if (path == NULL || n_text == 0) {
        tokenize_usage();
        goto done;
    }
    ids = malloc((size_t)max_len * sizeof *ids);
    if (ids == NULL) {
        fprintf(stderr, "samsep-model: out of memory\n");
        status = EXIT_BAD_FILE;
        goto done;
    }
    if (t5_tokenizer_open(path, &tk, err, sizeof err) != 0) {
        fprintf(stderr, "samsep-model tokenize: %s\n", err);
        status = EXIT_BAD_FILE;
        goto done;
    }
    for (i = 0; i < n_text; i++) {
        n = t5_tokenizer_encode(tk, texts[i], ids, max_len, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "samsep-model tokenize: text %d: %s\n", i + 1, err);
            status = n == SAMSEP_ERR_INVALID ? EXIT_USAGE : EXIT_BAD_FILE;
            goto done;
        }
        for (k = 0; k < n; k++)
            printf(k ? " %d" : "%d", (int)ids[k]);
        printf("\n");
    }
    status = 0;
done:
    t5_tokenizer_close(tk);
    free(ids);
    free(texts);
    return status;
}

/* ---- separate ----------------------------------------------------------- */

static void separate_usage(void)
{
    fprintf(stderr,
            "usage: samsep-model separate --model DIR --text TEXT [--t5 DIR]\n"
            "           [--tokenizer PATH] [--noise FILE.npy] [--message FILE.npy]\n"
            "           [--seed N] [--threads N] [--precision fp32|bf16]\n"
            "           [--span +START:END]... IN.wav OUTDIR\n"
            "Runs SAM-Audio on the whole of IN (mono, or mixed to mono, at the model's\n"
            "48 kHz) in one piece and writes OUTDIR/target.npy and OUTDIR/residual.npy\n"
            "(float32, the model's own length: whole latent frames). --noise [1,T,2C]\n"
            "and --message [2,bits] replace the seeded ones, to compare with the\n"
            "official implementation on the same inputs. Each --span (repeatable, in\n"
            "order) is a span prompt in seconds of IN: +START:END the target sounds\n"
            "there, -START:END it does not (the official processor's anchors).\n"
            "--precision bf16 keeps the weights of the products and convolutions in\n"
            "bf16 (default fp32).\n");
}

/* Whole file as mono float; NULL with err set on failure. */
static float *read_mono(const char *path, int64_t *frames, int *rate, char *err,
                        size_t errlen)
{
    SF_INFO info;
    SNDFILE *sf;
    float *buf, *mono;
    int64_t i;
    int c;

    memset(&info, 0, sizeof info);
    sf = sf_open(path, SFM_READ, &info);
    if (sf == NULL) {
        snprintf(err, errlen, "%s: %s", path, sf_strerror(NULL));
        return NULL;
    }
    if (info.frames < 1 || info.frames > (sf_count_t)48000 * 3600 || info.channels < 1) {
        snprintf(err, errlen, "%s: %lld frames: want 1 frame to 1 hour", path,
                 (long long)info.frames);
        sf_close(sf);
        return NULL;
    }
    buf = malloc((size_t)info.frames * (size_t)info.channels * sizeof *buf);
    mono = malloc((size_t)info.frames * sizeof *mono);
    if (buf == NULL || mono == NULL) {
        free(buf);
        free(mono);
        sf_close(sf);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    *frames = (int64_t)sf_readf_float(sf, buf, info.frames);
    sf_close(sf);
    for (i = 0; i < *frames; i++) {
        double acc = 0;

        for (c = 0; c < info.channels; c++)
            acc += buf[i * info.channels + c];
        mono[i] = (float)(acc / info.channels);
    }
    free(buf);
    *rate = info.samplerate;
    return mono;
}

static float *load_npy_exact(const char *path, int64_t want, char *err, size_t errlen)
{
    int64_t shape[8], n = 1;
    int ndim, i;
    float *d = NULL;

    if (npy_load(path, &d, shape, &ndim, err, errlen) != 0)
        return NULL;
    for (i = 0; i < ndim; i++)
        n *= shape[i];
    if (n != want) {
        snprintf(err, errlen, "%s: holds %lld values, %lld wanted", path, (long long)n,
                 (long long)want);
        free(d);
        return NULL;
    }
    return d;
}

static int cmd_separate(int argc, char **argv)
{
    const char *model = NULL, *text = NULL, *t5 = NULL, *tok = NULL;
    const char *noise_path = NULL, *msg_path = NULL, *pos[2] = { NULL, NULL };
    unsigned long long seed = 0;
    int threads = 0, npos = 0, i, rate, status = EXIT_USAGE, prec = NN_PRECISION_F32;
    char err[1024], path[4096];
    sam_model *m = NULL;
    sam_state *st = NULL;
    float *wav = NULL, *noise = NULL, *msg = NULL, *tgt = NULL, *res = NULL;
    int64_t N = 0, T, hop, shape[2];
    samsep_anchor spans[64];
    int nspans = 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;

        if (strcmp(a, "--model") == 0 && has)
            model = argv[++i];
        else if (strcmp(a, "--span") == 0 && has) {
            if (nspans == (int)(sizeof spans / sizeof spans[0])) {
                fprintf(stderr, "samsep-model separate: at most %d --span\n", nspans);
                return EXIT_USAGE;
            }
            if (samsep_anchor_parse(argv[++i], &spans[nspans++], err, sizeof err) !=
                SAMSEP_OK) {
                fprintf(stderr, "samsep-model separate: --span: %s\n", err);
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--text") == 0 && has)
            text = argv[++i];
        else if (strcmp(a, "--t5") == 0 && has)
            t5 = argv[++i];
        else if (strcmp(a, "--tokenizer") == 0 && has)
            tok = argv[++i];
        else if (strcmp(a, "--noise") == 0 && has)
            noise_path = argv[++i];
        else if (strcmp(a, "--message") == 0 && has)
            msg_path = argv[++i];
        else if (strcmp(a, "--precision") == 0 && has) {
            prec = nn_precision_parse(argv[++i]);
            if (prec < 0) {
                fprintf(stderr,
                        "samsep-model separate: bad value for --precision: '%s' "
                        "(fp32 or bf16)\n",
                        argv[i]);
                return EXIT_USAGE;
            }
        } else if ((strcmp(a, "--seed") == 0 || strcmp(a, "--threads") == 0) && has) {
            char *end;
            unsigned long long v = strtoull(argv[i + 1], &end, 10);

            if (*end != '\0' || end == argv[i + 1] || argv[i + 1][0] == '-' ||
                (a[2] == 't' && v > 1024)) {
                fprintf(stderr, "samsep-model separate: bad value for %s: '%s'\n", a,
                        argv[i + 1]);
                return EXIT_USAGE;
            }
            if (a[2] == 's')
                seed = v;
            else
                threads = (int)v;
            i++;
        } else if (strcmp(a, "--help") == 0) {
            separate_usage();
            return 0;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr,
                    "samsep-model separate: unknown option or missing value: %s\n", a);
            separate_usage();
            return EXIT_USAGE;
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            separate_usage();
            return EXIT_USAGE;
        }
    }
    if (model == NULL || text == NULL || npos != 2) {
        separate_usage();
        return EXIT_USAGE;
    }
    status = EXIT_BAD_FILE;
    if (sam_model_load(model, t5, tok, NULL, prec, &m, err, sizeof err) != SAMSEP_OK ||
        sam_state_create(m, threads, &st, err, sizeof err) != SAMSEP_OK ||
        sam_set_text(st, &text, 1, err, sizeof err) < 0 ||
        sam_set_anchors(st, 0, spans, nspans, err, sizeof err) != SAMSEP_OK) {
        fprintf(stderr, "samsep-model separate: %s\n", err);
        goto done;
    }
    wav = read_mono(pos[0], &N, &rate, err, sizeof err);
    if (wav == NULL) {
        fprintf(stderr, "samsep-model separate: %s\n", err);
        goto done;
    }
    if (rate != sam_sample_rate(m)) {
        fprintf(stderr,
                "samsep-model separate: %s is %d Hz; the model takes %d Hz "
                "(resample first, or use samsep -e sam-audio, which does)\n",
                pos[0], rate, sam_sample_rate(m));
        goto done;
    }
    hop = sam_hop(m);
    T = (N + hop - 1) / hop;
    noise =
        noise_path != NULL
            ? load_npy_exact(noise_path, T * 2 * sam_latent_channels(m), err, sizeof err)
            : malloc((size_t)(T * 2 * sam_latent_channels(m)) * sizeof(float));
    msg = msg_path != NULL
              ? load_npy_exact(msg_path, 2 * sam_message_bits(m), err, sizeof err)
              : malloc((size_t)(2 * sam_message_bits(m)) * sizeof(float));
    tgt = malloc((size_t)(T * hop) * sizeof(float));
    res = malloc((size_t)(T * hop) * sizeof(float));
    if (noise == NULL || msg == NULL || tgt == NULL || res == NULL) {
        fprintf(stderr, "samsep-model separate: %s\n",
                (noise_path != NULL && noise == NULL) || (msg_path != NULL && msg == NULL)
                    ? err
                    : "out of memory");
        goto done;
    }
    if (noise_path == NULL)
        sam_noise(seed, 0, noise, T * 2 * sam_latent_channels(m));
    if (msg_path == NULL)
        sam_message(seed, 0, msg, 2 * sam_message_bits(m));
    if (sam_separate(st, wav, NULL, N, noise, msg, tgt, res, err, sizeof err) !=
        SAMSEP_OK) {
        fprintf(stderr, "samsep-model separate: %s\n", err);
        goto done;
    }
    if (mkdir(pos[1], 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "samsep-model separate: %s: %s\n", pos[1], strerror(errno));
        goto done;
    }
    shape[0] = T * hop;
    snprintf(path, sizeof path, "%s/target.npy", pos[1]);
    if (npy_save(path, tgt, shape, 1, err, sizeof err) != 0) {
        fprintf(stderr, "samsep-model separate: %s\n", err);
        goto done;
    }
    snprintf(path, sizeof path, "%s/residual.npy", pos[1]);
    if (npy_save(path, res, shape, 1, err, sizeof err) != 0) {
        fprintf(stderr, "samsep-model separate: %s\n", err);
        goto done;
    }
    printf("%s: %lld samples -> %s/target.npy, %s/residual.npy (%lld samples each)\n",
           pos[0], (long long)N, pos[1], pos[1], (long long)(T * hop));
    status = 0;
done:
    free(wav);
    free(noise);
    free(msg);
    free(tgt);
    free(res);
    sam_state_destroy(st);
    sam_model_close(m);
    return status;
}

/* ---- dispatch ---------------------------------------------------------- */

typedef struct subcommand {
    const char *name;
    const char *args;
    const char *summary;
    int (*run)(int argc, char **argv);
} subcommand;

static const subcommand commands[] = {
    { "info", "PATH",
      "list a model file's tensors (name, dtype, shape), their "
      "count, parameters and bytes, and whether it is a complete SAM-Audio "
      "model or T5 text encoder; PATH is a file or a folder holding "
      "checkpoint.pt, model.safetensors or checkpoint.safetensors",
      cmd_info },
    { "t5",
      "--model DIR [--tokenizer PATH] [--threads N] -o OUT.npy TEXT... | --ids 1,2,3...",
      "run the T5 text encoder on each TEXT (tokenized with DIR's tokenizer) or "
      "id list and write last_hidden_state [rows, longest, d_model] to OUT.npy",
      cmd_t5 },
    { "tokenize", "(--spm FILE | --tokenizer PATH) [--max-len N] TEXT...",
      "print each TEXT's T5 token ids (</s> included), one line per TEXT", cmd_tokenize },
    { "separate",
      "--model DIR --text TEXT [--t5 DIR] [--tokenizer PATH] [--noise F.npy] "
      "[--message F.npy] [--seed N] [--precision fp32|bf16] [--span +START:END]... "
      "IN.wav OUTDIR",
      "run SAM-Audio on the whole of IN (48 kHz), with span prompts if given, and "
      "write OUTDIR/target.npy and residual.npy at the model's own length",
      cmd_separate },
};

static void usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: samsep-model COMMAND [ARGS...]\n\ncommands:\n");
    for (i = 0; i < N_ELEMS(commands); i++)
        fprintf(f, "  %s %s\n      %s\n", commands[i].name, commands[i].args,
                commands[i].summary);
    fprintf(f, "\nexit status: 0 done, 1 bad or missing file, 2 usage error\n");
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (i = 0; i < N_ELEMS(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "samsep-model: unknown command '%s' (see samsep-model --help)\n",
            argv[1]);
    return EXIT_USAGE;
}
