/*
 * testutil.c - see testutil.h.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include "testutil.h"

char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl;

    if (base == NULL || *base == '\0')
        base = "/tmp";
    tmpl = malloc(strlen(base) + 32);
    if (tmpl == NULL)
        return NULL;
    sprintf(tmpl, "%s/samsep-test-XXXXXX", base);
    if (mkdtemp(tmpl) == NULL) {
        free(tmpl);
        return NULL;
    }
    return tmpl;
}

void tu_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char *p;
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        p = tu_path(dir, e->d_name);
        if (p == NULL)
            continue;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(p, 0700);
            tu_rmtree(p);
        } else {
            unlink(p);
        }
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

char *tu_path(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);

    if (p != NULL)
        sprintf(p, "%s/%s", dir, name);
    return p;
}

int tu_write(const char *path, int sf_format, int rate, int channels, const float *data,
             int64_t frames)
{
    SF_INFO info;
    SNDFILE *sf;
    sf_count_t put;

    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = sf_format;
    sf = sf_open(path, SFM_WRITE, &info);
    if (sf == NULL)
        return -1;
    put = frames > 0 ? sf_writef_float(sf, data, frames) : 0;
    sf_close(sf);
    return put == frames ? 0 : -1;
}

float *tu_read(const char *path, int64_t *frames, int *rate, int *channels,
               int *sf_format)
{
    SF_INFO info;
    SNDFILE *sf;
    float *buf = NULL;
    int64_t cap = 0, n = 0;

    memset(&info, 0, sizeof info);
    sf = sf_open(path, SFM_READ, &info);
    if (sf == NULL)
        return NULL;
    for (;;) {
        sf_count_t got;

        if (n + 4096 > cap) {
            float *p;

            cap = cap * 2 + 8192;
            p = realloc(buf, (size_t)cap * (size_t)info.channels * sizeof(float));
            if (p == NULL) {
                free(buf);
                sf_close(sf);
                return NULL;
            }
            buf = p;
        }
        got = sf_readf_float(sf, buf + n * info.channels, 4096);
        if (got <= 0)
            break;
        n += got;
    }
    sf_close(sf);
    if (buf == NULL)
        buf = malloc(sizeof(float));
    *frames = n;
    if (rate)
        *rate = info.samplerate;
    if (channels)
        *channels = info.channels;
    if (sf_format)
        *sf_format = info.format;
    return buf;
}

void tu_noise(float *x, int64_t n, float amp, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    int64_t i;

    for (i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = amp * (2.0f * (float)((s >> 40) & 0xffffff) / 16777216.0f - 1.0f);
    }
}

double tu_band_db(const float *x, int64_t n, int rate, double f, double bw)
{
    const double two_pi = 2.0 * 3.14159265358979323846;
    double e = 1e-30;

    for (double g = f - bw; g <= f + bw + 1e-9; g += 0.25) {
        double w = two_pi * g / rate, c = 2.0 * cos(w), s1 = 0, s2 = 0;

        for (int64_t i = 0; i < n; i++) {
            /* The window keeps leakage from far frequencies out. */
            double win = 0.5 - 0.5 * cos(two_pi * (double)i / (double)n);
            double s0 = x[i] * win + c * s1 - s2;

            s2 = s1;
            s1 = s0;
        }
        e += s1 * s1 + s2 * s2 - c * s1 * s2;
    }
    return 10.0 * log10(e);
}

int tu_file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Link REF/from as DIR/name; 0 or -1. */
static int link_ref(const char *ref, const char *from, const char *dir, const char *name)
{
    char src[4096];
    char *to = tu_path(dir, name);
    int rc;

    snprintf(src, sizeof src, "%s/%s", ref, from);
    rc = to != NULL && symlink(src, to) == 0 ? 0 : -1;
    free(to);
    return rc;
}

char *tu_model_dir(const char *ref, const char *root)
{
    char *model = tu_path(root, "model"), *t5 = tu_path(model, "t5");
    int ok = model != NULL && t5 != NULL && mkdir(model, 0777) == 0 &&
             mkdir(t5, 0777) == 0 &&
             link_ref(ref, "full/config.json", model, "config.json") == 0 &&
             link_ref(ref, "full/checkpoint.pt", model, "checkpoint.pt") == 0 &&
             link_ref(ref, "t5/config.json", t5, "config.json") == 0 &&
             link_ref(ref, "t5/model.safetensors", t5, "model.safetensors") == 0 &&
             link_ref(ref, "tokenizer/spiece.model", t5, "spiece.model") == 0;

    free(t5);
    if (!ok) {
        free(model);
        return NULL;
    }
    return model;
}
