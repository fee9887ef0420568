/*
 * mkweights.c - write a complete SAM-Audio model folder with random weights
 * at a given size, for benchmarks: the official layout that sam_open reads.
 *
 *   mkweights PRESET OUTDIR [--spm FILE] [--seed N] [--config] [--list] [--count]
 *
 * PRESET: tiny-check (the sizes of the reference model full/ in
 * tests/data/samref.tar.xz: its key set and shapes must come out
 * identical), small (DiT 1024 x 8 heads x 12 layers),
 * base (2048 x 16 x 16), large (2816 x 22 x 22; FFN 7552 by the same
 * ffn_exp 4 / multiple_of 64 rule). small, base and large use the
 * published DAC-VAE (encoder
 * 64, rates 2/8/10/12, latent 1024, decoder 1536, codebook 128, watermark
 * hidden 512 / 32 channels / 128 out) and a t5-base text encoder (768 x 12).
 *
 * OUTDIR receives config.json (SAMAudioConfig), checkpoint.safetensors,
 * t5/config.json (HF T5Config), t5/model.safetensors (HF key names) and
 * t5/spiece.model (a copy of --spm). The key list and every shape are
 * derived from the configuration, following the families of the official
 * state_dict (checkpoint_keys.tsv of the reference model).
 *
 * Files are streamed: the safetensors header is written first (all shapes
 * are known up front), then each tensor is generated and written in
 * blocks, so memory stays a few MiB whatever the model size.
 *
 * Values: Linear / Conv weights N(0, 1/fan_in); weight-normed convs get
 * weight_v like that and weight_g = ||weight_v|| per output (Conv) or input
 * (ConvTranspose) channel, so the folded weight equals weight_v; biases
 * N(0, 0.02^2); norm weights 1; Snake alpha U(0.5, 2); LSTM U(+-1/sqrt(H));
 * embeddings N(0, 1); modulation tables N(0, 0.1^2); gates 0.5 / -0.35.
 * Each tensor has its own generator seeded from its name, so the values do
 * not depend on the order of the list.
 *
 * --list prints "key<TAB>[shape]" for every tensor of the checkpoint and of
 * t5/ (prefixed "t5:") and writes nothing; --count prints parameter counts
 * and sizes and writes nothing; --config writes only config.json and
 * t5/config.json (what bench_sam --units reads: large's 12 GB of weights
 * are not needed to count its work units).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- configuration -------------------------------------------------------- */

typedef struct preset {
    const char *name;
    /* DAC-VAE */
    int enc_dim, enc_rates[4], latent, dec_dim, dec_rates[4], cbd;
    int n_codebooks, codebook_size;
    int wm_hidden, wm_ch, wm_out, wm_bits, wm_rates[4];
    /* DiT */
    int D, H, layers, ffn_exp, multiple_of, freq_dim, max_positions;
    int vision_dim, num_anchors, anchor_dim;
    /* T5 */
    int t5_d, t5_dkv, t5_heads, t5_ff, t5_layers, t5_vocab, t5_buckets, t5_maxdist;
    const char *t5_name;
} preset;

static const preset PRESETS[] = {
    { "tiny-check",
      8,
      { 2, 8, 10, 12 },
      32,
      192,
      { 12, 10, 8, 2 },
      8,
      2,
      16,
      64,
      4,
      16,
      16,
      { 8, 5, 4, 2 },
      64,
      4,
      2,
      4,
      64,
      256,
      10000,
      16,
      3,
      16,
      32,
      8,
      4,
      64,
      2,
      800,
      32,
      128,
      "t5-tiny-random (see ../t5)" },
    { "small",
      64,
      { 2, 8, 10, 12 },
      1024,
      1536,
      { 12, 10, 8, 2 },
      128,
      16,
      1024,
      512,
      32,
      128,
      16,
      { 8, 5, 4, 2 },
      1024,
      8,
      12,
      4,
      64,
      256,
      10000,
      1024,
      3,
      128,
      768,
      64,
      12,
      3072,
      12,
      32128,
      32,
      128,
      "t5-base" },
    { "base",
      64,
      { 2, 8, 10, 12 },
      1024,
      1536,
      { 12, 10, 8, 2 },
      128,
      16,
      1024,
      512,
      32,
      128,
      16,
      { 8, 5, 4, 2 },
      2048,
      16,
      16,
      4,
      64,
      256,
      10000,
      1024,
      3,
      128,
      768,
      64,
      12,
      3072,
      12,
      32128,
      32,
      128,
      "t5-base" },
    { "large",
      64,
      { 2, 8, 10, 12 },
      1024,
      1536,
      { 12, 10, 8, 2 },
      128,
      16,
      1024,
      512,
      32,
      128,
      16,
      { 8, 5, 4, 2 },
      2816,
      22,
      22,
      4,
      64,
      256,
      10000,
      1024,
      3,
      128,
      768,
      64,
      12,
      3072,
      12,
      32128,
      32,
      128,
      "t5-base" },
};

/* FeedForward hidden width as the official (llama-style) code computes it:
 * int(2 * ffn_exp * D / 3), times ffn_dim_multiplier (1), rounded up to a
 * multiple of multiple_of. */
static int64_t ffn_dim(const preset *p)
{
    int64_t v = (2 * (int64_t)p->ffn_exp * p->D) / 3;

    return p->multiple_of * ((v + p->multiple_of - 1) / p->multiple_of);
}

/* ---- the tensor list ------------------------------------------------------ */

enum init {
    I_NORMAL,  /* N(0, a^2) */
    I_UNIFORM, /* U(a, b) */
    I_CONST,   /* a */
    I_WN_V,    /* N(0, a^2); the next entry is its weight_g */
    I_WN_G     /* || previous entry's slice along dim 0 || */
};

typedef struct spec {
    char name[192];
    int nd;
    int64_t shape[4];
    int64_t numel;
    enum init init;
    float a, b;
} spec;

typedef struct list {
    spec *v;
    size_t n, cap;
} list;

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("mkweights: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static spec *add(list *l, enum init init, float a, float b, int nd, const int64_t *shape,
                 const char *fmt, ...)
{
    spec *s;
    va_list ap;
    int i;

    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (l->v == NULL)
            die("out of memory");
    }
    s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    va_start(ap, fmt);
    if (vsnprintf(s->name, sizeof s->name, fmt, ap) >= (int)sizeof s->name)
        die("name too long");
    va_end(ap);
    s->nd = nd;
    s->numel = 1;
    for (i = 0; i < nd; i++) {
        if (shape[i] < 1)
            die("%s: bad shape", s->name);
        s->shape[i] = shape[i];
        s->numel *= shape[i];
    }
    s->init = init;
    s->a = a;
    s->b = b;
    return s;
}

#define SH(...)       \
    (const int64_t[]) \
    {                 \
        __VA_ARGS__   \
    }
#define BIAS_STD 0.02f

static float inv_sqrt(int64_t fan_in)
{
    return (float)(1.0 / sqrt((double)fan_in));
}

/* Weight-normed Conv1d: bias, weight_v [cout, cin, k], weight_g [cout, 1, 1]. */
static void conv_wn(list *l, const char *p, int64_t cout, int64_t cin, int64_t k)
{
    add(l, I_NORMAL, BIAS_STD, 0, 1, SH(cout), "%s.bias", p);
    add(l, I_WN_V, inv_sqrt(cin * k), 0, 3, SH(cout, cin, k), "%s.weight_v", p);
    add(l, I_WN_G, 0, 0, 3, SH(cout, 1, 1), "%s.weight_g", p);
}

/* Weight-normed ConvTranspose1d: weight [cin, cout, k], g per input channel.
 * Each output sample sees cin * k / stride = 2 cin taps (k = 2 stride). */
static void convt_wn(list *l, const char *p, int64_t cin, int64_t cout, int64_t k)
{
    add(l, I_NORMAL, BIAS_STD, 0, 1, SH(cout), "%s.bias", p);
    add(l, I_WN_V, inv_sqrt(2 * cin), 0, 3, SH(cin, cout, k), "%s.weight_v", p);
    add(l, I_WN_G, 0, 0, 3, SH(cin, 1, 1), "%s.weight_g", p);
}

static void conv_plain(list *l, const char *p, int64_t cout, int64_t cin, int64_t k)
{
    add(l, I_NORMAL, inv_sqrt(cin * k), 0, 3, SH(cout, cin, k), "%s.weight", p);
    add(l, I_NORMAL, BIAS_STD, 0, 1, SH(cout), "%s.bias", p);
}

static void convt_plain(list *l, const char *p, int64_t cin, int64_t cout, int64_t k)
{
    add(l, I_NORMAL, inv_sqrt(2 * cin), 0, 3, SH(cin, cout, k), "%s.weight", p);
    add(l, I_NORMAL, BIAS_STD, 0, 1, SH(cout), "%s.bias", p);
}

static void snake(list *l, const char *p, int64_t c)
{
    add(l, I_UNIFORM, 0.5f, 2.0f, 3, SH(1, c, 1), "%s.alpha", p);
}

/* Residual unit: Snake, Conv k7 (dilated), Snake, Conv 1x1 - all weight-normed. */
static void res_unit(list *l, const char *p, int64_t dim)
{
    char b[192];

    snprintf(b, sizeof b, "%s.block.0", p);
    snake(l, b, dim);
    snprintf(b, sizeof b, "%s.block.1", p);
    conv_wn(l, b, dim, dim, 7);
    snprintf(b, sizeof b, "%s.block.2", p);
    snake(l, b, dim);
    snprintf(b, sizeof b, "%s.block.3", p);
    conv_wn(l, b, dim, dim, 1);
}

/* Watermark residual unit (ELU, causal conv k3 to dim/2, 1x1 back; plain). */
static void res_unit_elu(list *l, const char *p, int64_t dim)
{
    char b[192];

    snprintf(b, sizeof b, "%s.block.1", p);
    conv_plain(l, b, dim / 2, dim, 3);
    snprintf(b, sizeof b, "%s.block.3", p);
    conv_plain(l, b, dim, dim / 2, 1);
}

static void lstm2(list *l, const char *p, int64_t h)
{
    float r = inv_sqrt(h);
    int i;

    for (i = 0; i < 2; i++) {
        add(l, I_UNIFORM, -r, r, 2, SH(4 * h, h), "%s.weight_ih_l%d", p, i);
        add(l, I_UNIFORM, -r, r, 2, SH(4 * h, h), "%s.weight_hh_l%d", p, i);
        add(l, I_UNIFORM, -r, r, 1, SH(4 * h), "%s.bias_ih_l%d", p, i);
        add(l, I_UNIFORM, -r, r, 1, SH(4 * h), "%s.bias_hh_l%d", p, i);
    }
}

static void linear(list *l, int64_t out, int64_t in, const char *fmt, ...)
{
    char b[192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    add(l, I_NORMAL, inv_sqrt(in), 0, 2, SH(out, in), "%s.weight", b);
}

static void codec_keys(list *l, const preset *p)
{
    char b[192], c[160];
    int64_t dim, in, out, hi, lo;
    int i, j;

    /* encoder */
    conv_wn(l, "audio_codec.encoder.block.0", p->enc_dim, 1, 7);
    dim = p->enc_dim;
    for (i = 1; i <= 4; i++) {
        dim *= 2;
        for (j = 0; j < 3; j++) {
            snprintf(b, sizeof b, "audio_codec.encoder.block.%d.block.%d", i, j);
            res_unit(l, b, dim / 2);
        }
        snprintf(b, sizeof b, "audio_codec.encoder.block.%d.block.3", i);
        snake(l, b, dim / 2);
        snprintf(b, sizeof b, "audio_codec.encoder.block.%d.block.4", i);
        conv_wn(l, b, dim, dim / 2, 2 * p->enc_rates[i - 1]);
    }
    snake(l, "audio_codec.encoder.block.5", dim);
    conv_wn(l, "audio_codec.encoder.block.6", p->latent, dim, 3);
    /* bottleneck */
    conv_wn(l, "audio_codec.quantizer.in_proj", 2 * p->cbd, p->latent, 1);
    conv_wn(l, "audio_codec.quantizer.out_proj", p->latent, p->cbd, 1);
    /* decoder */
    conv_wn(l, "audio_codec.decoder.model.0", p->dec_dim, p->latent, 7);
    in = p->dec_dim;
    hi = p->wm_hidden;
    for (i = 1; i <= 4; i++) {
        int s = p->dec_rates[i - 1], w = p->wm_rates[i - 1];

        out = in / 2;
        lo = hi / 2;
        snprintf(c, sizeof c, "audio_codec.decoder.model.%d.block", i);
        snprintf(b, sizeof b, "%s.0", c);
        snake(l, b, in);
        snprintf(b, sizeof b, "%s.1", c);
        convt_wn(l, b, in, out, 2 * s);
        snprintf(b, sizeof b, "%s.3", c);
        convt_plain(l, b, hi, lo, 2 * w);
        snprintf(b, sizeof b, "%s.4", c);
        res_unit(l, b, out);
        snprintf(b, sizeof b, "%s.5", c);
        res_unit(l, b, out);
        snprintf(b, sizeof b, "%s.6", c);
        res_unit_elu(l, b, lo);
        snprintf(b, sizeof b, "%s.7", c);
        res_unit_elu(l, b, lo);
        snprintf(b, sizeof b, "%s.8", c);
        res_unit(l, b, out);
        snprintf(b, sizeof b, "%s.11", c);
        conv_plain(l, b, hi, lo, 2 * w);
        in = out;
        hi = lo;
    }
    if (hi != p->wm_ch)
        die("watermark hidden %d does not halve 4 times to %d channels", p->wm_hidden,
            p->wm_ch);
    /* watermark */
    snake(l, "audio_codec.decoder.wm_model.encoder_block.pre.0", in);
    conv_wn(l, "audio_codec.decoder.wm_model.encoder_block.pre.1", 1, in, 7);
    conv_plain(l, "audio_codec.decoder.wm_model.encoder_block.pre.3", p->wm_ch, 1, 7);
    lstm2(l, "audio_codec.decoder.wm_model.encoder_block.post.0.lstm", p->wm_hidden);
    conv_plain(l, "audio_codec.decoder.wm_model.encoder_block.post.2", p->wm_out,
               p->wm_hidden, 7);
    add(l, I_NORMAL, 1.0f, 0, 2, SH(2 * p->wm_bits, p->wm_out),
        "audio_codec.decoder.wm_model.msg_processor.msg_processor.weight");
    conv_plain(l, "audio_codec.decoder.wm_model.decoder_block.pre.0", p->wm_hidden,
               p->wm_out, 7);
    lstm2(l, "audio_codec.decoder.wm_model.decoder_block.pre.1.lstm", p->wm_hidden);
    conv_plain(l, "audio_codec.decoder.wm_model.decoder_block.post.1", 1, p->wm_ch, 7);
}

static void attention_keys(list *l, const char *p, int64_t D, int64_t hd)
{
    linear(l, D, D, "%s.wq", p);
    linear(l, D, D, "%s.wk", p);
    linear(l, D, D, "%s.wv", p);
    linear(l, D, D, "%s.wo", p);
    add(l, I_CONST, 1, 0, 1, SH(hd), "%s.q_norm.weight", p);
    add(l, I_CONST, 1, 0, 1, SH(hd), "%s.k_norm.weight", p);
}

static void dit_keys(list *l, const preset *p)
{
    int64_t D = p->D, hd = p->D / p->H, F = ffn_dim(p), C2 = 2 * p->cbd;
    char b[192];
    int i, j;

    add(l, I_NORMAL, 0.1f, 0, 2, SH(2, D), "transformer.final_layer_scale_shift_table");
    for (i = 0; i < p->layers; i++) {
        add(l, I_NORMAL, 0.1f, 0, 2, SH(6, D), "transformer.layers.%d.scale_shift_table",
            i);
        snprintf(b, sizeof b, "transformer.layers.%d.attention", i);
        attention_keys(l, b, D, hd);
        linear(l, F, D, "transformer.layers.%d.feed_forward.w1", i);
        linear(l, D, F, "transformer.layers.%d.feed_forward.w2", i);
        linear(l, F, D, "transformer.layers.%d.feed_forward.w3", i);
        add(l, I_CONST, 1, 0, 1, SH(D), "transformer.layers.%d.attention_norm.weight", i);
        add(l, I_CONST, 1, 0, 1, SH(D), "transformer.layers.%d.ffn_norm.weight", i);
        snprintf(b, sizeof b, "transformer.layers.%d.cross_attention", i);
        attention_keys(l, b, D, hd);
    }
    add(l, I_CONST, 1, 0, 1, SH(D), "transformer.norm.weight");
    linear(l, C2, D, "transformer.output");
    for (j = 1; j <= 2; j++) {
        add(l, I_CONST, 1, 0, 1, SH(D),
            "transformer.x_embedder.block.block%d.groupnorm.weight", j);
        add(l, I_CONST, 0, 0, 1, SH(D),
            "transformer.x_embedder.block.block%d.groupnorm.bias", j);
        add(l, I_NORMAL, inv_sqrt(3 * D), 0, 3, SH(D, D, 3),
            "transformer.x_embedder.block.block%d.project.weight", j);
        add(l, I_NORMAL, BIAS_STD, 0, 1, SH(D),
            "transformer.x_embedder.block.block%d.project.bias", j);
    }
    /* context_dim = dim (MANIFEST §2): SwiGLU D -> D -> D */
    linear(l, D, D, "transformer.y_embedder.projection.w1");
    linear(l, D, D, "transformer.y_embedder.projection.w2");
    linear(l, D, D, "transformer.y_embedder.projection.w3");
    linear(l, D, p->freq_dim, "transformer.t_embedder.projection.w1");
    linear(l, D, D, "transformer.t_embedder.projection.w2");
    linear(l, D, p->freq_dim, "transformer.t_embedder.projection.w3");
    linear(l, 6 * D, D, "transformer.t_block");
    add(l, I_NORMAL, BIAS_STD, 0, 1, SH(6 * D), "transformer.t_block.bias");
    /* conditioning */
    linear(l, D, 3 * C2, "proj");
    add(l, I_NORMAL, BIAS_STD, 0, 1, SH(D), "proj.bias");
    add(l, I_CONST, 0.5f, 0, 1, SH(1), "align_masked_video.gate");
    add(l, I_NORMAL, inv_sqrt(p->vision_dim), 0, 3, SH(D, p->vision_dim, 1),
        "align_masked_video.conv.weight");
    add(l, I_NORMAL, BIAS_STD, 0, 1, SH(D), "align_masked_video.conv.bias");
    add(l, I_CONST, 1, 0, 1, SH(D), "align_masked_video.layer_norm.weight");
    add(l, I_CONST, 0, 0, 1, SH(D), "align_masked_video.layer_norm.bias");
    add(l, I_CONST, -0.35f, 0, 1, SH(1), "embed_anchors.gate");
    add(l, I_NORMAL, 1.0f, 0, 2, SH(p->num_anchors + 1, p->anchor_dim),
        "embed_anchors.embed.weight");
    linear(l, D, p->anchor_dim, "embed_anchors.proj");
    linear(l, D, p->t5_d, "memory_proj");
    add(l, I_NORMAL, BIAS_STD, 0, 1, SH(D), "memory_proj.bias");
}

static void t5_keys(list *l, const preset *p)
{
    int64_t d = p->t5_d, inner = (int64_t)p->t5_heads * p->t5_dkv;
    int i;

    add(l, I_NORMAL, 1.0f, 0, 2, SH(p->t5_vocab, d), "shared.weight");
    for (i = 0; i < p->t5_layers; i++) {
        linear(l, inner, d, "encoder.block.%d.layer.0.SelfAttention.q", i);
        linear(l, inner, d, "encoder.block.%d.layer.0.SelfAttention.k", i);
        linear(l, inner, d, "encoder.block.%d.layer.0.SelfAttention.v", i);
        linear(l, d, inner, "encoder.block.%d.layer.0.SelfAttention.o", i);
        if (i == 0)
            add(l, I_NORMAL, 1.0f, 0, 2, SH(p->t5_buckets, p->t5_heads),
                "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
        add(l, I_CONST, 1, 0, 1, SH(d), "encoder.block.%d.layer.0.layer_norm.weight", i);
        linear(l, p->t5_ff, d, "encoder.block.%d.layer.1.DenseReluDense.wi", i);
        linear(l, d, p->t5_ff, "encoder.block.%d.layer.1.DenseReluDense.wo", i);
        add(l, I_CONST, 1, 0, 1, SH(d), "encoder.block.%d.layer.1.layer_norm.weight", i);
    }
    add(l, I_CONST, 1, 0, 1, SH(d), "encoder.final_layer_norm.weight");
}

static int64_t list_numel(const list *l, const char *prefix)
{
    int64_t n = 0;
    size_t i;

    for (i = 0; i < l->n; i++)
        if (prefix == NULL || strncmp(l->v[i].name, prefix, strlen(prefix)) == 0)
            n += l->v[i].numel;
    return n;
}

/* ---- random numbers ------------------------------------------------------- */

typedef struct rng {
    uint64_t s[4];
    int has_spare;
    double spare;
} rng;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ull;
    int i;

    for (; *name; name++)
        h = (h ^ (unsigned char)*name) * 1099511628211ull;
    h ^= seed * 0xd1b54a32d192ed03ull;
    for (i = 0; i < 4; i++)
        r->s[i] = splitmix(&h);
    r->has_spare = 0;
}

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, res = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3] << 45 | s[3] >> 19;
    return res;
}

static double rng_unit(rng *r) /* (0, 1] */
{
    return ((double)(rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

static double rng_normal(rng *r)
{
    double u, v, rad;

    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    u = rng_unit(r);
    v = rng_unit(r);
    rad = sqrt(-2.0 * log(u));
    r->spare = rad * sin(2.0 * M_PI * v);
    r->has_spare = 1;
    return rad * cos(2.0 * M_PI * v);
}

/* ---- safetensors writing -------------------------------------------------- */

#define BLOCK (1 << 20) /* floats generated and written at a time */

static void shape_str(const spec *s, char *out, size_t n)
{
    size_t o = 0;
    int i;

    o += (size_t)snprintf(out + o, n - o, "[");
    for (i = 0; i < s->nd; i++)
        o += (size_t)snprintf(out + o, n - o, "%s%" PRId64, i ? ", " : "", s->shape[i]);
    snprintf(out + o, n - o, "]");
}

static void xwrite(FILE *f, const void *p, size_t n, const char *path)
{
    if (n > 0 && fwrite(p, 1, n, f) != n)
        die("%s: write error: %s", path, strerror(errno));
}

static void write_safetensors(const list *l, const char *path, uint64_t seed)
{
    FILE *f = fopen(path, "wb");
    char *hdr, sh[128];
    size_t cap, len = 0, i;
    uint64_t off = 0, hlen;
    unsigned char lenb[8];
    float *buf;
    double *norms = NULL;
    int64_t norms_n = 0;
    int k;

    if (f == NULL)
        die("%s: %s", path, strerror(errno));
    cap = 256 + l->n * 320;
    hdr = malloc(cap);
    buf = malloc(BLOCK * sizeof *buf);
    if (hdr == NULL || buf == NULL)
        die("out of memory");
    len +=
        (size_t)snprintf(hdr + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (i = 0; i < l->n; i++) {
        const spec *s = &l->v[i];
        uint64_t nb = (uint64_t)s->numel * 4;

        shape_str(s, sh, sizeof sh);
        len += (size_t)snprintf(hdr + len, cap - len,
                                ",\"%s\":{\"dtype\":\"F32\",\"shape\":%s,"
                                "\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}",
                                s->name, sh, off, off + nb);
        if (len >= cap)
            die("header overflow");
        off += nb;
    }
    len += (size_t)snprintf(hdr + len, cap - len, "}");
    while (len % 8 != 0 && len < cap)
        hdr[len++] = ' ';
    hlen = len;
    for (k = 0; k < 8; k++)
        lenb[k] = (unsigned char)(hlen >> (8 * k));
    xwrite(f, lenb, 8, path);
    xwrite(f, hdr, len, path);
    free(hdr);

    for (i = 0; i < l->n; i++) {
        const spec *s = &l->v[i];
        int64_t done = 0, slice = s->numel / s->shape[0];
        rng r;

        rng_seed(&r, seed, s->name);
        if (s->init == I_WN_V) {
            if (i + 1 >= l->n || l->v[i + 1].init != I_WN_G ||
                l->v[i + 1].numel != s->shape[0])
                die("%s: weight_v without its weight_g", s->name);
            if (norms_n < s->shape[0]) {
                free(norms);
                norms = malloc((size_t)s->shape[0] * sizeof *norms);
                if (norms == NULL)
                    die("out of memory");
                norms_n = s->shape[0];
            }
            memset(norms, 0, (size_t)s->shape[0] * sizeof *norms);
        }
        while (done < s->numel) {
            int64_t n = s->numel - done < BLOCK ? s->numel - done : BLOCK, j;

            for (j = 0; j < n; j++) {
                float x;

                switch (s->init) {
                case I_NORMAL:
                case I_WN_V: x = (float)(s->a * rng_normal(&r)); break;
                case I_UNIFORM: x = (float)(s->a + (s->b - s->a) * rng_unit(&r)); break;
                case I_CONST: x = s->a; break;
                case I_WN_G:
                default: x = (float)sqrt(norms[done + j]); break;
                }
                buf[j] = x;
                if (s->init == I_WN_V)
                    norms[(done + j) / slice] += (double)x * x;
            }
            xwrite(f, buf, (size_t)n * sizeof *buf, path);
            done += n;
        }
    }
    if (fclose(f) != 0)
        die("%s: %s", path, strerror(errno));
    free(buf);
    free(norms);
}

/* ---- config files --------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        die("%s: %s", path, strerror(errno));
    xwrite(f, text, strlen(text), path);
    if (fclose(f) != 0)
        die("%s: %s", path, strerror(errno));
}

static void write_config(const preset *p, const char *path)
{
    char t[4096];

    snprintf(t, sizeof t,
             "{\n"
             "  \"in_channels\": %d,\n"
             "  \"audio_codec\": {\n"
             "    \"encoder_dim\": %d,\n"
             "    \"encoder_rates\": [%d, %d, %d, %d],\n"
             "    \"latent_dim\": %d,\n"
             "    \"decoder_dim\": %d,\n"
             "    \"decoder_rates\": [%d, %d, %d, %d],\n"
             "    \"n_codebooks\": %d,\n"
             "    \"codebook_size\": %d,\n"
             "    \"codebook_dim\": %d,\n"
             "    \"quantizer_dropout\": false,\n"
             "    \"sample_rate\": 48000,\n"
             "    \"mean\": 0.0,\n"
             "    \"std\": 1.0\n"
             "  },\n"
             "  \"text_encoder\": {\n"
             "    \"name\": \"%s\",\n"
             "    \"max_length\": 512,\n"
             "    \"pad_mode\": \"longest\",\n"
             "    \"dim\": %d\n"
             "  },\n"
             "  \"vision_encoder\": {\n"
             "    \"dim\": %d,\n"
             "    \"batch_size\": 300,\n"
             "    \"name\": \"PE-Core-L14-336\",\n"
             "    \"normalize_feature\": true,\n"
             "    \"interpolation_mode\": \"BICUBIC\",\n"
             "    \"image_size\": 336\n"
             "  },\n"
             "  \"transformer\": {\n"
             "    \"dim\": %d,\n"
             "    \"n_heads\": %d,\n"
             "    \"n_layers\": %d,\n"
             "    \"dropout\": 0.1,\n"
             "    \"norm_eps\": 1e-05,\n"
             "    \"qk_norm\": true,\n"
             "    \"fc_bias\": false,\n"
             "    \"ffn_exp\": %d,\n"
             "    \"ffn_dim_multiplier\": 1,\n"
             "    \"multiple_of\": %d,\n"
             "    \"non_linearity\": \"swiglu\",\n"
             "    \"use_rope\": true,\n"
             "    \"max_positions\": %d,\n"
             "    \"frequency_embedding_dim\": %d,\n"
             "    \"timestep_non_linearity\": \"swiglu\",\n"
             "    \"t_block_non_linearity\": \"silu\",\n"
             "    \"t_block_bias\": true,\n"
             "    \"context_dim\": %d,\n"
             "    \"context_non_linearity\": \"swiglu\",\n"
             "    \"context_embedder_dropout\": 0.0,\n"
             "    \"context_norm\": false,\n"
             "    \"out_channels\": %d,\n"
             "    \"in_channels\": null\n"
             "  },\n"
             "  \"num_anchors\": %d,\n"
             "  \"anchor_embedding_dim\": %d,\n"
             "  \"visual_ranker\": null,\n"
             "  \"text_ranker\": null,\n"
             "  \"span_predictor\": null\n"
             "}\n",
             6 * p->cbd, p->enc_dim, p->enc_rates[0], p->enc_rates[1], p->enc_rates[2],
             p->enc_rates[3], p->latent, p->dec_dim, p->dec_rates[0], p->dec_rates[1],
             p->dec_rates[2], p->dec_rates[3], p->n_codebooks, p->codebook_size, p->cbd,
             p->t5_name, p->t5_d, p->vision_dim, p->D, p->H, p->layers, p->ffn_exp,
             p->multiple_of, p->max_positions, p->freq_dim, p->D, 2 * p->cbd,
             p->num_anchors, p->anchor_dim);
    write_file(path, t);
}

static void write_t5_config(const preset *p, const char *path)
{
    char t[2048];

    snprintf(t, sizeof t,
             "{\n"
             "  \"architectures\": [\"T5EncoderModel\"],\n"
             "  \"d_ff\": %d,\n"
             "  \"d_kv\": %d,\n"
             "  \"d_model\": %d,\n"
             "  \"decoder_start_token_id\": 0,\n"
             "  \"dense_act_fn\": \"relu\",\n"
             "  \"dropout_rate\": 0.1,\n"
             "  \"eos_token_id\": 1,\n"
             "  \"feed_forward_proj\": \"relu\",\n"
             "  \"initializer_factor\": 1.0,\n"
             "  \"is_encoder_decoder\": true,\n"
             "  \"is_gated_act\": false,\n"
             "  \"layer_norm_epsilon\": 1e-06,\n"
             "  \"model_type\": \"t5\",\n"
             "  \"n_positions\": 512,\n"
             "  \"num_decoder_layers\": %d,\n"
             "  \"num_heads\": %d,\n"
             "  \"num_layers\": %d,\n"
             "  \"pad_token_id\": 0,\n"
             "  \"relative_attention_max_distance\": %d,\n"
             "  \"relative_attention_num_buckets\": %d,\n"
             "  \"torch_dtype\": \"float32\",\n"
             "  \"use_cache\": true,\n"
             "  \"vocab_size\": %d\n"
             "}\n",
             p->t5_ff, p->t5_dkv, p->t5_d, p->t5_layers, p->t5_heads, p->t5_layers,
             p->t5_maxdist, p->t5_buckets, p->t5_vocab);
    write_file(path, t);
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b;
    char buf[65536];
    size_t n;

    if (a == NULL)
        die("%s: %s (give the tokenizer with --spm FILE)", from, strerror(errno));
    b = fopen(to, "wb");
    if (b == NULL)
        die("%s: %s", to, strerror(errno));
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        xwrite(b, buf, n, to);
    if (ferror(a) || fclose(b) != 0)
        die("copying %s to %s failed", from, to);
    fclose(a);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        die("%s: %s", path, strerror(errno));
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
    fputs("usage: mkweights PRESET OUTDIR [--spm FILE] [--seed N] [--config]\n"
          "       mkweights PRESET --list | --count\n"
          "PRESET: tiny-check, small, base, large\n",
          stderr);
    exit(2);
}

static void print_list(const list *l, const char *prefix)
{
    char sh[128];
    size_t i;

    for (i = 0; i < l->n; i++) {
        shape_str(&l->v[i], sh, sizeof sh);
        printf("%s%s\t%s\n", prefix, l->v[i].name, sh);
    }
}

int main(int argc, char **argv)
{
    const preset *p = NULL;
    const char *out = NULL, *spm = "build/tests/samref/tokenizer/spiece.model";
    uint64_t seed = 20240601;
    int do_list = 0, do_count = 0, config_only = 0, i;
    list ck = { 0 }, t5 = { 0 };
    char path[4096];

    if (argc < 3)
        usage();
    for (i = 0; i < (int)(sizeof PRESETS / sizeof PRESETS[0]); i++)
        if (strcmp(argv[1], PRESETS[i].name) == 0)
            p = &PRESETS[i];
    if (p == NULL)
        usage();
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--spm") == 0 && i + 1 < argc)
            spm = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--list") == 0)
            do_list = 1;
        else if (strcmp(argv[i], "--count") == 0)
            do_count = 1;
        else if (strcmp(argv[i], "--config") == 0)
            config_only = 1;
        else if (argv[i][0] != '-' && out == NULL)
            out = argv[i];
        else
            usage();
    }
    if (p->D % p->H != 0 || (p->D / p->H) % 2 != 0)
        die("dim %d does not split into %d heads of even size", p->D, p->H);
    codec_keys(&ck, p);
    dit_keys(&ck, p);
    t5_keys(&t5, p);

    if (do_list) {
        print_list(&ck, "");
        print_list(&t5, "t5:");
        return 0;
    }
    if (do_count) {
        int64_t codec = list_numel(&ck, "audio_codec."), all = list_numel(&ck, NULL),
                dit_only = list_numel(&ck, "transformer."), t5n = list_numel(&t5, NULL);

        printf("preset\t%s\n", p->name);
        printf("dit_dim\t%d\ndit_heads\t%d\ndit_layers\t%d\ndit_ffn\t%" PRId64 "\n", p->D,
               p->H, p->layers, ffn_dim(p));
        printf("params_transformer\t%" PRId64 "\n", dit_only);
        printf("params_conditioning\t%" PRId64 "\n", all - codec - dit_only);
        printf("params_codec\t%" PRId64 "\n", codec);
        printf("params_t5\t%" PRId64 "\n", t5n);
        printf("params_total\t%" PRId64 "\n", all + t5n);
        printf("bytes_checkpoint\t%" PRId64 "\n", 4 * all);
        printf("bytes_t5\t%" PRId64 "\n", 4 * t5n);
        return 0;
    }
    if (out == NULL)
        usage();
    make_dir(out);
    snprintf(path, sizeof path, "%s/t5", out);
    make_dir(path);
    snprintf(path, sizeof path, "%s/config.json", out);
    write_config(p, path);
    if (config_only) {
        snprintf(path, sizeof path, "%s/t5/config.json", out);
        write_t5_config(p, path);
        printf("%s: config.json and t5/config.json only\n", out);
        free(ck.v);
        free(t5.v);
        return 0;
    }
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", out);
    write_safetensors(&ck, path, seed);
    snprintf(path, sizeof path, "%s/t5/config.json", out);
    write_t5_config(p, path);
    snprintf(path, sizeof path, "%s/t5/model.safetensors", out);
    write_safetensors(&t5, path, seed + 1);
    snprintf(path, sizeof path, "%s/t5/spiece.model", out);
    copy_file(spm, path);
    printf("%s: %zu + %zu tensors, %.1f + %.1f MiB\n", out, ck.n, t5.n,
           4.0 * (double)list_numel(&ck, NULL) / 1048576.0,
           4.0 * (double)list_numel(&t5, NULL) / 1048576.0);
    free(ck.v);
    free(t5.v);
    return 0;
}
