/*
 * testutil.h - small helpers shared by the tests: temporary folders, writing
 * and reading whole audio files through libsndfile, deterministic signals.
 */
#ifndef SAMSEP_TESTUTIL_H
#define SAMSEP_TESTUTIL_H

#include <stdint.h>

/* A fresh folder under $TMPDIR (or /tmp); returns a static-lifetime copy. */
char *tu_mkdtemp(void);
/* rm -r of a folder made by tu_mkdtemp. */
void tu_rmtree(const char *dir);
/* Number of entries in a folder (without . and ..). */
int tu_count_entries(const char *dir);
/* "dir/name" in a malloc'd string. */
char *tu_path(const char *dir, const char *name);

/* Write interleaved floats to `path` with libsndfile's SF_FORMAT_* word. */
int tu_write(const char *path, int sf_format, int rate, int channels, const float *data,
             int64_t frames);
/* Read a whole file; returns malloc'd interleaved floats or NULL. */
float *tu_read(const char *path, int64_t *frames, int *rate, int *channels,
               int *sf_format);

/* Deterministic noise in [-amp, amp). */
void tu_noise(float *x, int64_t n, float amp, uint64_t seed);

/* Power of x[0..n) near frequency f, within +-bw Hz in 0.25 Hz steps: a
 * Hann-windowed Goertzel DFT over the whole signal per step, summed; dB. */
double tu_band_db(const float *x, int64_t n, int rate, double f, double bw);

int tu_file_exists(const char *path);

/* ROOT/model laid out as users download SAM-Audio (config.json,
 * checkpoint.pt, t5/{config.json,model.safetensors,spiece.model}), its
 * files symbolic links to the reference model in REF; malloc'd path, or
 * NULL when a folder or link cannot be made. */
char *tu_model_dir(const char *ref, const char *root);

#endif
