/*
 * spectro.h - spectrograms of a file's mixture, target and residual,
 * accumulated block by block while the file streams (fed by the job's tap),
 * into a fixed grid of columns (time) by rows (mel-spaced frequency).
 *
 * Memory is the grid, one byte per cell, plus one analysis frame per signal:
 * it does not depend on the file's length. Each column averages the power
 * of the STFT frames whose centres fall in it; how many frames a column gets
 * follows from the file's length when it is known. When it is not (or the
 * file runs past it), the grid covers a guessed span, and each time the
 * audio outgrows it the span doubles and neighbouring columns merge, so a
 * finished grid always uses between half and all of its columns.
 *
 * Cells hold dB in fixed steps from SPECTRO_DB_FLOOR (code 0: at or below
 * it), with 0 dB the level of a full-scale sine, so the three signals share
 * one scale.
 */
#ifndef SAMSEP_CLI_SPECTRO_H
#define SAMSEP_CLI_SPECTRO_H

#include <math.h>
#include <stdint.h>

#include "samsep.h"

#define SPECTRO_SIGNALS 3            /* mixture, target, residual */
#define SPECTRO_DB_FLOOR (-140.0)    /* dB of code 0 */
#define SPECTRO_DB_STEP 0.625        /* dB per code step: code 255 is +19.4 dB */
#define SPECTRO_FRAMES_PER_COLUMN 32 /* most analysis frames per column */

typedef struct spectro spectro;

/* A grid of `columns` x `rows`; NULL when out of memory. */
spectro *spectro_new(int columns, int rows);
void spectro_free(spectro *s);

/* Forget the file under way (one that failed half-way, say): the next
 * block begins a new one. */
void spectro_reset(spectro *s);

/* Start a file: its rate and its length in frames (-1 if unknown). */
int spectro_begin(spectro *s, int sample_rate, int64_t frames_total);

/* A samsep_tap_fn: the first block after spectro_new, spectro_reset or
 * spectro_finish begins a file (at the block's rate and frames_total) unless
 * spectro_begin did; the blocks of a file must follow one another. */
void spectro_tap(void *spectro, const samsep_tap_block *block);

/* End the file: analyse what is left, fill columns no frame landed in. */
void spectro_finish(spectro *s);

/* After spectro_finish: columns in use (those that hold audio), rows, the
 * file's rate and length, and the cells of signal `sig` (0 mixture, 1
 * target, 2 residual), column after column, row 0 the lowest frequency. */
int spectro_columns(const spectro *s);
int spectro_rows(const spectro *s);
int spectro_rate(const spectro *s);
int64_t spectro_frames(const spectro *s);
const uint8_t *spectro_cells(const spectro *s, int sig);

/* The mel scale of the rows: row r of `rows` covers [row_hz(r), row_hz(r+1))
 * over 0 .. rate/2. Shared with the picture's axis. */
static inline double spectro_mel(double hz)
{
    return 2595.0 * log10(1.0 + hz / 700.0);
}

static inline double spectro_hz(double mel)
{
    return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
}

static inline double spectro_row_hz(double row, int rows, int rate)
{
    return spectro_hz(row * spectro_mel(rate / 2.0) / rows);
}

static inline double spectro_code_db(int code)
{
    return SPECTRO_DB_FLOOR + code * SPECTRO_DB_STEP;
}

#endif
