/*
 * sisdr.c - score target estimates against an evaluation set by SI-SDR.
 *
 *   sisdr EVAL_DIR EST_DIR [--json]
 *
 * EVAL_DIR holds one folder per case with a meta.json naming the mixture
 * ("mix_file") and the reference target ("target_file"), plus "case",
 * "kind" and, for speech cases, "snr_db". EST_DIR holds <case>_target.wav
 * (or .flac). For each case the tool prints the SI-SDR of the estimate and
 * of the mixture against the reference and their difference, the SI-SDR
 * improvement; then mean improvements per SNR group and overall for speech
 * cases, and per kind and overall for music cases. Per-case values are
 * clipped to [-100, +100] dB before averaging, as the eval set's own scorer
 * does, so one perfect (+inf) case does not swamp the mean. Multichannel
 * files are averaged to mono; an estimate of another length is zero-padded
 * or truncated to the reference (marked "L"). Files are read in blocks, in
 * two passes (see sisdr_core.h), so memory does not grow with length.
 *
 * Exit status: 0 all cases scored, 1 some estimate missing or unreadable
 * (named on stderr; the others are still scored), 2 usage or eval-set error.
 */
#define _POSIX_C_SOURCE 200809L

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sisdr_core.h"

#define CLIP_DB 100.0
#define BLOCK 65536
#define MAX_CASES 4096

typedef struct case_row {
    char name[64];
    char kind[64];
    int has_snr;
    double snr_db;
    double si_est, si_mix, si_imp;
    int len_mismatch;
} case_row;

/* A file read as mono blocks; reads past its end give zeros. */
typedef struct mono_src {
    SNDFILE *f;
    SF_INFO info;
    float *buf; /* [BLOCK * channels] */
} mono_src;

static int src_open(mono_src *s, const char *path, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->f = sf_open(path, SFM_READ, &s->info);
    if (s->f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, sf_strerror(NULL));
        return -1;
    }
    if (s->info.channels < 1 || s->info.frames < 0) {
        snprintf(err, errlen, "%s: no audio", path);
        sf_close(s->f);
        s->f = NULL;
        return -1;
    }
    s->buf = malloc((size_t)BLOCK * (size_t)s->info.channels * sizeof *s->buf);
    if (s->buf == NULL) {
        snprintf(err, errlen, "out of memory reading %s", path);
        sf_close(s->f);
        s->f = NULL;
        return -1;
    }
    return 0;
}

static void src_close(mono_src *s)
{
    if (s->f != NULL)
        sf_close(s->f);
    free(s->buf);
    memset(s, 0, sizeof *s);
}

static int src_rewind(mono_src *s)
{
    return sf_seek(s->f, 0, SEEK_SET) < 0 ? -1 : 0;
}

/* Read n <= BLOCK frames as mono into out (zeros past the end). */
static void src_read(mono_src *s, float *out, int64_t n)
{
    const int ch = s->info.channels;
    sf_count_t got = sf_readf_float(s->f, s->buf, (sf_count_t)n);
    if (got < 0)
        got = 0;
    for (sf_count_t i = 0; i < got; i++) {
        if (ch == 1) {
            out[i] = s->buf[i];
        } else {
            double sum = 0.0;
            for (int c = 0; c < ch; c++)
                sum += s->buf[i * ch + c];
            out[i] = (float)(sum / ch);
        }
    }
    for (int64_t i = got; i < n; i++)
        out[i] = 0.0f;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *text = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size >= 0 && size < (1L << 24) && fseek(f, 0, SEEK_SET) == 0) {
            text = malloc((size_t)size + 1);
            if (text != NULL) {
                size_t got = fread(text, 1, (size_t)size, f);
                text[got] = '\0';
            }
        }
    }
    fclose(f);
    return text;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static double clip(double v)
{
    if (v > CLIP_DB)
        return CLIP_DB;
    if (v < -CLIP_DB)
        return -CLIP_DB;
    return v;
}

static void fmt_db(char *out, size_t len, double v)
{
    if (isnan(v))
        snprintf(out, len, "%8s", "nan");
    else if (isinf(v))
        snprintf(out, len, "%8s", v > 0 ? "+inf" : "-inf");
    else
        snprintf(out, len, "%+8.2f", v);
}

/*
 * Score one case. Returns 0 when scored, 1 when the estimate is missing or
 * unreadable (reason in err), 2 when the case itself is broken.
 */
static int score_case(const char *eval_dir, const char *case_dir, const char *est_dir,
                      case_row *row, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/meta.json", eval_dir, case_dir);
    char *text = read_text(path);
    if (text == NULL) {
        snprintf(err, errlen, "cannot read %s", path);
        return 2;
    }
    cJSON *meta = cJSON_Parse(text);
    free(text);
    if (meta == NULL) {
        snprintf(err, errlen, "%s is not valid JSON", path);
        return 2;
    }
    const cJSON *jcase = cJSON_GetObjectItemCaseSensitive(meta, "case");
    const cJSON *jkind = cJSON_GetObjectItemCaseSensitive(meta, "kind");
    const cJSON *jsnr = cJSON_GetObjectItemCaseSensitive(meta, "snr_db");
    const cJSON *jmix = cJSON_GetObjectItemCaseSensitive(meta, "mix_file");
    const cJSON *jtgt = cJSON_GetObjectItemCaseSensitive(meta, "target_file");
    if (!cJSON_IsString(jmix) || !cJSON_IsString(jtgt)) {
        snprintf(err, errlen, "%s: \"mix_file\" and \"target_file\" must be strings",
                 path);
        cJSON_Delete(meta);
        return 2;
    }
    memset(row, 0, sizeof *row);
    snprintf(row->name, sizeof row->name, "%s",
             cJSON_IsString(jcase) ? jcase->valuestring : case_dir);
    snprintf(row->kind, sizeof row->kind, "%s",
             cJSON_IsString(jkind) ? jkind->valuestring : "");
    row->has_snr = cJSON_IsNumber(jsnr);
    row->snr_db = row->has_snr ? jsnr->valuedouble : 0.0;

    char mix_path[4096], ref_path[4096], est_path[4096];
    snprintf(mix_path, sizeof mix_path, "%s/%s/%s", eval_dir, case_dir,
             jmix->valuestring);
    snprintf(ref_path, sizeof ref_path, "%s/%s/%s", eval_dir, case_dir,
             jtgt->valuestring);
    cJSON_Delete(meta);

    snprintf(est_path, sizeof est_path, "%s/%s_target.wav", est_dir, row->name);
    if (!file_exists(est_path)) {
        snprintf(est_path, sizeof est_path, "%s/%s_target.flac", est_dir, row->name);
        if (!file_exists(est_path)) {
            snprintf(err, errlen, "%s: missing estimate %s/%s_target.wav (or .flac)",
                     row->name, est_dir, row->name);
            return 1;
        }
    }

    mono_src ref, mix, est;
    if (src_open(&ref, ref_path, err, errlen) != 0)
        return 2;
    if (src_open(&mix, mix_path, err, errlen) != 0) {
        src_close(&ref);
        return 2;
    }
    if (src_open(&est, est_path, err, errlen) != 0) {
        src_close(&ref);
        src_close(&mix);
        return 1;
    }
    int rc = 0;
    float *r = malloc(BLOCK * sizeof *r), *m = malloc(BLOCK * sizeof *m),
          *e = malloc(BLOCK * sizeof *e);
    const int64_t n = ref.info.frames;
    if (r == NULL || m == NULL || e == NULL) {
        snprintf(err, errlen, "%s: out of memory", row->name);
        rc = 2;
    } else if (mix.info.frames != n || mix.info.samplerate != ref.info.samplerate) {
        snprintf(err, errlen, "%s: mixture and reference differ in length or rate",
                 row->name);
        rc = 2;
    } else if (est.info.samplerate != ref.info.samplerate) {
        snprintf(err, errlen, "%s: estimate %s is at %d Hz, reference at %d Hz",
                 row->name, est_path, est.info.samplerate, ref.info.samplerate);
        rc = 1;
    } else {
        row->len_mismatch = est.info.frames != n;
        sisdr_acc a_est, a_mix;
        sisdr_acc_init(&a_est);
        sisdr_acc_init(&a_mix);
        for (int pass = 0; pass < 2 && rc == 0; pass++) {
            if (pass == 1 && (src_rewind(&ref) || src_rewind(&mix) || src_rewind(&est))) {
                snprintf(err, errlen, "%s: cannot seek in the audio files", row->name);
                rc = 2;
                break;
            }
            for (int64_t i = 0; i < n; i += BLOCK) {
                int64_t b = n - i < BLOCK ? n - i : BLOCK;
                src_read(&ref, r, b);
                src_read(&mix, m, b);
                src_read(&est, e, b);
                if (pass == 0) {
                    sisdr_acc_sums(&a_est, r, e, b);
                    sisdr_acc_sums(&a_mix, r, m, b);
                } else {
                    sisdr_acc_error(&a_est, r, e, b);
                    sisdr_acc_error(&a_mix, r, m, b);
                }
            }
        }
        if (rc == 0 && n == 0) {
            /* Empty reference: no pass-2 block ran; the values are NAN. */
            sisdr_acc_error(&a_est, r, e, 0);
            sisdr_acc_error(&a_mix, r, m, 0);
        }
        row->si_est = sisdr_acc_value(&a_est);
        row->si_mix = sisdr_acc_value(&a_mix);
        row->si_imp = row->si_est - row->si_mix;
    }
    free(r);
    free(m);
    free(e);
    src_close(&ref);
    src_close(&mix);
    src_close(&est);
    return rc;
}

/* Groups print in the order: speech by SNR, all speech, music by kind, all
 * music, anything else. */
enum { G_SPEECH_SNR, G_SPEECH_ALL, G_MUSIC_KIND, G_MUSIC_ALL, G_OTHER };

typedef struct group {
    char label[96];
    int cls;    /* G_* */
    double key; /* SNR within G_SPEECH_SNR */
    int n;
    double sum_imp, sum_est;
} group;

static group *group_get(group *groups, int *ngroups, const char *label, int cls,
                        double key)
{
    for (int i = 0; i < *ngroups; i++)
        if (strcmp(groups[i].label, label) == 0)
            return &groups[i];
    group *g = &groups[(*ngroups)++];
    memset(g, 0, sizeof *g);
    snprintf(g->label, sizeof g->label, "%s", label);
    g->cls = cls;
    g->key = key;
    return g;
}

static int cmp_group(const void *pa, const void *pb)
{
    const group *a = pa, *b = pb;
    if (a->cls != b->cls)
        return a->cls < b->cls ? -1 : 1;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return strcmp(a->label, b->label);
}

static void group_add(group *g, const case_row *row)
{
    if (isnan(row->si_imp))
        return;
    g->n++;
    g->sum_imp += clip(row->si_imp);
    g->sum_est += clip(row->si_est);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sisdr EVAL_DIR EST_DIR [--json] [--cases PREFIX]\n"
            "Scores EST_DIR/<case>_target.wav|flac against each case folder of EVAL_DIR\n"
            "(meta.json with case, kind, snr_db, mix_file, target_file) by zero-mean\n"
            "SI-SDR and SI-SDR improvement over the mixture, in dB.\n"
            "--cases PREFIX scores only the cases whose folder name starts with it.\n");
}

int main(int argc, char **argv)
{
    const char *dirs[2] = { NULL, NULL };
    const char *prefix = "";
    int ndirs = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc) {
            prefix = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "sisdr: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (ndirs < 2) {
            dirs[ndirs++] = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (ndirs != 2) {
        usage(stderr);
        return 2;
    }
    const char *eval_dir = dirs[0], *est_dir = dirs[1];

    DIR *d = opendir(eval_dir);
    if (d == NULL) {
        fprintf(stderr, "sisdr: cannot open %s\n", eval_dir);
        return 2;
    }
    char **names = malloc(MAX_CASES * sizeof *names);
    case_row *rows = malloc(MAX_CASES * sizeof *rows);
    /* Each case adds at most two groups, plus the two "all" groups. */
    group *groups = malloc((2 * MAX_CASES + 2) * sizeof *groups);
    if (names == NULL || rows == NULL || groups == NULL) {
        fprintf(stderr, "sisdr: out of memory\n");
        closedir(d);
        return 2;
    }
    int nnames = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL && nnames < MAX_CASES) {
        if (ent->d_name[0] == '.' || strncmp(ent->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char meta[4096];
        snprintf(meta, sizeof meta, "%s/%s/meta.json", eval_dir, ent->d_name);
        if (file_exists(meta))
            names[nnames++] = strdup(ent->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nnames, sizeof *names, cmp_str);
    if (nnames == 0) {
        fprintf(stderr, "sisdr: no case folders (with meta.json) in %s\n", eval_dir);
        return 2;
    }

    int nrows = 0, failed = 0, broken = 0;
    char err[8192];
    for (int i = 0; i < nnames; i++) {
        err[0] = '\0';
        int rc = score_case(eval_dir, names[i], est_dir, &rows[nrows], err, sizeof err);
        if (rc == 0) {
            nrows++;
        } else {
            fprintf(stderr, "sisdr: %s\n", err);
            if (rc == 1)
                failed++;
            else
                broken++;
        }
        free(names[i]);
    }
    free(names);

    int ngroups = 0;
    for (int i = 0; i < nrows; i++) {
        const case_row *row = &rows[i];
        char label[96];
        if (strncmp(row->kind, "speech", 6) == 0) {
            group_add(group_get(groups, &ngroups, "speech all", G_SPEECH_ALL, 0.0), row);
            if (row->has_snr) {
                snprintf(label, sizeof label, "speech snr=%+g dB", row->snr_db);
                group_add(group_get(groups, &ngroups, label, G_SPEECH_SNR, row->snr_db),
                          row);
            }
        } else if (strncmp(row->kind, "music", 5) == 0) {
            group_add(group_get(groups, &ngroups, "music all", G_MUSIC_ALL, 0.0), row);
            snprintf(label, sizeof label, "kind=%s", row->kind);
            group_add(group_get(groups, &ngroups, label, G_MUSIC_KIND, 0.0), row);
        } else {
            snprintf(label, sizeof label, "kind=%s", row->kind[0] ? row->kind : "(none)");
            group_add(group_get(groups, &ngroups, label, G_OTHER, 0.0), row);
        }
    }
    qsort(groups, (size_t)ngroups, sizeof *groups, cmp_group);

    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON *jc = cJSON_AddArrayToObject(root, "cases");
        for (int i = 0; i < nrows; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "case", rows[i].name);
            cJSON_AddStringToObject(o, "kind", rows[i].kind);
            if (rows[i].has_snr)
                cJSON_AddNumberToObject(o, "snr_db", rows[i].snr_db);
            else
                cJSON_AddNullToObject(o, "snr_db");
            /* JSON has no infinities: values are clipped like the means. */
            cJSON_AddNumberToObject(o, "si_sdr", clip(rows[i].si_est));
            cJSON_AddNumberToObject(o, "si_sdr_mix", clip(rows[i].si_mix));
            cJSON_AddNumberToObject(o, "si_sdri", clip(rows[i].si_imp));
            cJSON_AddBoolToObject(o, "length_mismatch", rows[i].len_mismatch);
            cJSON_AddItemToArray(jc, o);
        }
        cJSON *jg = cJSON_AddArrayToObject(root, "groups");
        for (int i = 0; i < ngroups; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "group", groups[i].label);
            cJSON_AddNumberToObject(o, "n", groups[i].n);
            cJSON_AddNumberToObject(o, "mean_si_sdri",
                                    groups[i].n ? groups[i].sum_imp / groups[i].n : 0.0);
            cJSON_AddNumberToObject(o, "mean_si_sdr",
                                    groups[i].n ? groups[i].sum_est / groups[i].n : 0.0);
            cJSON_AddItemToArray(jg, o);
        }
        cJSON_AddNumberToObject(root, "missing_or_unreadable", failed);
        char *s = cJSON_Print(root);
        if (s != NULL)
            printf("%s\n", s);
        free(s);
        cJSON_Delete(root);
    } else {
        printf("%-8s %-26s %5s | %8s %8s %8s\n", "case", "kind", "snr", "SI-SDR", "mix",
               "SI-SDRi");
        for (int i = 0; i < nrows; i++) {
            char a[32], b[32], c[32], snr[16] = "";
            fmt_db(a, sizeof a, rows[i].si_est);
            fmt_db(b, sizeof b, rows[i].si_mix);
            fmt_db(c, sizeof c, rows[i].si_imp);
            if (rows[i].has_snr)
                snprintf(snr, sizeof snr, "%+g", rows[i].snr_db);
            printf("%-8s %-26.26s %5s | %s %s %s%s\n", rows[i].name, rows[i].kind, snr, a,
                   b, c, rows[i].len_mismatch ? "  L" : "");
        }
        printf("\nmeans of per-case values clipped to +-100 dB\n");
        printf("%-34s %3s | %12s %12s\n", "group", "n", "mean SI-SDRi", "mean SI-SDR");
        for (int i = 0; i < ngroups; i++) {
            if (groups[i].n == 0)
                continue;
            printf("%-34s %3d | %+12.2f %+12.2f\n", groups[i].label, groups[i].n,
                   groups[i].sum_imp / groups[i].n, groups[i].sum_est / groups[i].n);
        }
    }
    free(rows);
    free(groups);
    if (broken)
        return 2;
    return failed ? 1 : 0;
}
