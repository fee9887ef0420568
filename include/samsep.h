/*
 * samsep.h - public API of libsamsep.
 *
 * libsamsep isolates one sound from an audio recording: for every input it
 * writes a "target" (the sound asked for by a prompt, e.g. "speech") and a
 * "residual" (everything else). Files of any length are processed as a
 * stream of overlapping chunks joined by an exact crossfade, so memory does
 * not grow with the length of the recording.
 *
 * The API has three layers:
 *   - the chunk plan: pure integer arithmetic that splits N frames into
 *     overlapping chunks (samsep_plan_*);
 *   - engines: separation algorithms behind one table of function pointers
 *     (samsep_engine_vtable), opened by name (samsep_engine_open) or from a
 *     caller's own table (samsep_engine_open_custom);
 *   - the file pipeline: samsep_separate_file() reads one audio file block by
 *     block, resamples and downmixes as the engine asks, runs the engine over
 *     the chunk plan and writes the two outputs atomically.
 *
 * Conventions: every function that can fail returns SAMSEP_OK (0) or a
 * negative samsep_status; samsep_strerror() names it. Where a human-readable
 * reason is useful (which file, what is wrong), functions fill a caller's
 * buffer marked OUT. The library never prints and never exits; it reports
 * through the log callback set with samsep_set_log().
 *
 * Thread safety: distinct handles may be used from distinct threads. One
 * handle must not be used from two threads at once.
 */
#ifndef SAMSEP_H
#define SAMSEP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the library exports: every function below and nothing else (it is
 * built with hidden visibility). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define SAMSEP_API __attribute__((visibility("default")))
#else
#define SAMSEP_API
#endif

#define SAMSEP_VERSION_MAJOR 0
#define SAMSEP_VERSION_MINOR 1
#define SAMSEP_VERSION_PATCH 0
#define SAMSEP_VERSION_STRING "0.1.0"

/* Software name written into the provenance tags of every output. */
#define SAMSEP_SOFTWARE_TAG "samsep"

/* The library's version string, e.g. "0.1.0". */
SAMSEP_API const char *samsep_version(void);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

typedef enum samsep_status {
    SAMSEP_OK = 0,
    SAMSEP_ERR_INVALID = -1,        /* invalid argument or setting */
    SAMSEP_ERR_NOMEM = -2,          /* out of memory */
    SAMSEP_ERR_IO = -3,             /* a file could not be opened, read or written */
    SAMSEP_ERR_FORMAT = -4,         /* unsupported or corrupt audio */
    SAMSEP_ERR_EMPTY = -5,          /* the input holds no audio frames */
    SAMSEP_ERR_UNKNOWN_ENGINE = -6, /* no engine of that name */
    SAMSEP_ERR_UNKNOWN_PROMPT = -7, /* the engine does not know the prompt */
    SAMSEP_ERR_ENGINE = -8,         /* the engine failed */
    SAMSEP_ERR_CANCELLED = -9,      /* stopped by the caller's cancel flag */
    SAMSEP_ERR_NOSPACE = -10,       /* no space left on the output device */
    SAMSEP_ERR_UNSAFE = -11,        /* refused: outputs could feed or replace inputs */
    SAMSEP_ERR_BUSY = -12           /* claimed by another process */
} samsep_status;

/* A static, human-readable description of a status code. Never NULL. */
SAMSEP_API const char *samsep_strerror(int status);

/* Size of the message buffers the API fills. */
#define SAMSEP_MSG_MAX 1024

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

typedef enum samsep_log_level {
    SAMSEP_LOG_ERROR = 0,
    SAMSEP_LOG_WARN = 1,
    SAMSEP_LOG_INFO = 2,
    SAMSEP_LOG_DEBUG = 3
} samsep_log_level;

typedef void (*samsep_log_fn)(void *user, int level, const char *message);

/*
 * Route the library's messages of `level` or more important to `fn`.
 * fn == NULL (the default) discards them. Process-wide; set it before
 * other threads use the library.
 */
SAMSEP_API void samsep_set_log(samsep_log_fn fn, void *user, int level);

/* ------------------------------------------------------------------ */
/* Chunk plan                                                          */
/* ------------------------------------------------------------------ */

/*
 * A file of `frames` frames is cut into chunks of `chunk` frames that
 * overlap by `overlap` frames: chunk k starts at k * (chunk - overlap) and
 * ends (exclusive) at min(start + chunk, frames). The last chunk is the
 * first one that reaches `frames`. Consecutive chunks therefore overlap by
 * exactly `overlap` frames, and every chunk but the first covers at least
 * one frame that no earlier chunk covered. frames == 0 gives no chunk.
 *
 * Errors (SAMSEP_ERR_INVALID): frames < 0, chunk <= 0, overlap < 0,
 * overlap >= chunk.
 */
typedef struct samsep_span {
    int64_t start; /* first frame */
    int64_t end;   /* one past the last frame */
} samsep_span;

/* Number of chunks of the plan. */
SAMSEP_API int samsep_plan_count(int64_t frames, int64_t chunk, int64_t overlap,
                                 int64_t *count /* OUT */);

/* Bounds of chunk `index` (0 <= index < count). */
SAMSEP_API int samsep_plan_chunk(int64_t frames, int64_t chunk, int64_t overlap,
                                 int64_t index, samsep_span *span /* OUT */);

/* ------------------------------------------------------------------ */
/* Engines                                                             */
/* ------------------------------------------------------------------ */

/*
 * A span prompt (a temporal anchor of SAM-Audio): sign '+' says the target
 * sounds from `start` to `end` seconds, '-' that it does not. Times are
 * seconds of the file (samsep_job) or, as an engine's set_anchors receives
 * them, of the chunk. Where spans overlap, a later one overrides an earlier.
 */
typedef struct samsep_anchor {
    char sign;    /* '+' or '-' */
    double start; /* seconds, >= 0 */
    double end;   /* seconds, > start */
} samsep_anchor;

/*
 * Read a span prompt written "+START:END" or "-START:END" (seconds, plain
 * decimal numbers, e.g. "+1.5:4"). Returns SAMSEP_OK, or SAMSEP_ERR_INVALID
 * with err saying what is wrong (malformed, or empty: end <= start).
 */
SAMSEP_API int samsep_anchor_parse(const char *text, samsep_anchor *out /* OUT */,
                                   char *err, size_t errlen);

/*
 * The spans of a file (`anchors`, n of them, seconds of the file) that
 * concern the chunk of `frames` frames starting at frame `start` at `rate`
 * Hz: those that overlap it, in their order, cut to it and shifted to its
 * time (0 = its first frame), written to out (room for n). Returns how
 * many, or SAMSEP_ERR_INVALID. The pipeline hands these to an engine's
 * set_anchors before each chunk.
 */
SAMSEP_API int samsep_anchors_for_chunk(const samsep_anchor *anchors, int n,
                                        int64_t start, int64_t frames, int rate,
                                        samsep_anchor *out /* OUT */);

/* Settings given to an engine when it is opened (once per batch). */
typedef struct samsep_engine_config {
    const char *prompt;            /* what to isolate; NULL means "speech" */
    const char *model_path;        /* model folder for engines that need one, or NULL */
    int threads;                   /* worker threads; 0 = engine's choice */
    const char *text_encoder_path; /* text encoder folder, or NULL for the
                                      engine's default (e.g. MODEL/t5) */
    int residual;                  /* samsep_residual_request */
    uint64_t seed;                 /* for engines that draw noise */
    const char *worker;            /* "exec": the worker's command line, run by
                               /bin/sh -c (doc/exec-protocol.md) */
    double worker_timeout;         /* "exec": seconds a chunk may take; 0 = 600 */
    double worker_start_timeout;   /* "exec": seconds the worker may take to
                                    start and finish its handshake; 0 = 1800 */
    /* Polled by engines that wait on something else (exec: its worker);
     * when it becomes non-zero they stop and return SAMSEP_ERR_CANCELLED.
     * Usually the jobs' cancel flag. May be NULL. */
    const volatile int *cancel;
    int precision; /* samsep_precision of the engine's networks */
} samsep_engine_config;

/* Precision of the weights of an engine's networks (sam-audio; others
 * ignore it). bf16 halves the model's memory and, on CPUs with bf16
 * arithmetic, runs faster; outputs stay within the rounding of bf16
 * (bench/README.md gives the SNR against fp32 measured on this project's
 * reference cases). */
typedef enum samsep_precision {
    SAMSEP_PRECISION_FP32 = 0,
    SAMSEP_PRECISION_BF16 = 1
} samsep_precision;

/* What the caller asks of an engine that can make its own residual. */
typedef enum samsep_residual_request {
    SAMSEP_RESIDUAL_DEFAULT = 0,  /* the engine's choice */
    SAMSEP_RESIDUAL_MODEL = 1,    /* the engine's own residual */
    SAMSEP_RESIDUAL_MIX_MINUS = 2 /* mixture - target, so the two sum exactly */
} samsep_residual_request;

/* How the engine's residual is made. */
typedef enum samsep_residual_mode {
    /* The engine writes only the target; the pipeline computes
     * residual = mixture - target, so the two sum to the mixture. */
    SAMSEP_RESIDUAL_SUBTRACT = 0,
    /* The engine writes its own residual. */
    SAMSEP_RESIDUAL_ENGINE = 1
} samsep_residual_mode;

/* What an engine needs from the pipeline, declared when it is opened. */
typedef struct samsep_engine_info {
    int sample_rate;          /* rate the engine works at; 0 = the file's rate */
    int channels;             /* 0 = any (the file's channels, interleaved);
                               1 = mono: the pipeline downmixes, and the
                               outputs are mono or have the file's channels
                               as samsep_job.channels says */
    int streaming;            /* 1: the engine keeps state across calls and wants
                               consecutive blocks without overlap; chunk and
                               overlap settings then only size the blocks */
    int residual_mode;        /* samsep_residual_mode */
    double chunk_seconds;     /* preferred chunk (or block) length; 0 = default */
    double overlap_seconds;   /* preferred overlap; < 0 = default */
    double max_chunk_seconds; /* longest chunk the engine can take (a model's
                                 positions); 0 = no limit */
} samsep_engine_info;

/*
 * The table of functions every engine provides. The pipeline calls, per
 * batch: open, then per file: stream_open, process (one or more times),
 * stream_close; and close at the end of the batch.
 *
 * open:         read settings, load models; fill *info. On failure return a
 *               negative status and write a reason into err (errlen bytes).
 * stream_open:  prepare one file: `rate` and `channels` are what process()
 *               will be given; no call to process() passes more than
 *               `max_frames` frames, so all buffers can be sized here.
 *               *latency (OUT) is the delay, in frames, of a streaming
 *               engine's output behind its input (0 for chunked engines);
 *               the pipeline feeds that many zero frames at the end and
 *               drops that many frames at the start.
 * process:      separate `frames` interleaved frames of `in` into `target`
 *               and, when residual_mode is SAMSEP_RESIDUAL_ENGINE,
 *               `residual` (otherwise residual is NULL). All three have
 *               frames * channels floats. A chunked engine treats each call
 *               as an independent excerpt; a streaming engine continues.
 * stream_close: release what stream_open made; called with NULL is a no-op.
 * close:        release what open made; called with NULL is a no-op.
 * check:        (may be NULL) refuse the settings open would refuse - an
 *               unknown prompt, a model folder that is missing or does not
 *               hold the files it must - without loading anything large,
 *               and with the same status and message; a dry run and the
 *               interactive questions call it instead of open. NULL means
 *               open and close are cheap enough to stand in for it.
 * process_at:   optional (NULL if unused): process() that is also told where
 *               the frames lie in the file, `start` being the index of the
 *               first one at the engine's rate (chunk k of a chunked engine
 *               starts at k * (chunk - overlap)), and that may say why it
 *               failed in err (errlen bytes). The pipeline calls it instead
 *               of process() when it is set; process may then be NULL.
 * set_anchors:  optional (NULL: the engine takes no span prompts, and a job
 *               with spans fails before any chunk): the span prompts of the
 *               next process/process_at call, `count` of them (0: none), in
 *               seconds of that chunk (samsep_anchors_for_chunk), valid
 *               during the call only. Called before every chunk of every
 *               file, so an engine keeps no spans from one chunk or file to
 *               the next. A chunked engine takes them; err says why not.
 */
typedef struct samsep_engine_vtable {
    const char *name;
    const char *description;
    int (*open)(const samsep_engine_config *config, void **engine /* OUT */,
                samsep_engine_info *info /* OUT */, char *err, size_t errlen);
    int (*stream_open)(void *engine, int rate, int channels, int64_t max_frames,
                       void **stream /* OUT */, int64_t *latency /* OUT */, char *err,
                       size_t errlen);
    int (*process)(void *stream, const float *in, float *target, float *residual,
                   int64_t frames);
    void (*stream_close)(void *stream);
    void (*close)(void *engine);
    int (*check)(const samsep_engine_config *config, char *err, size_t errlen);
    int (*process_at)(void *stream, const float *in, float *target, float *residual,
                      int64_t frames, int64_t start, char *err, size_t errlen);
    int (*set_anchors)(void *stream, const samsep_anchor *anchors, int count, char *err,
                       size_t errlen);
    /*
     * Several prompts in one pass (optional; both NULL if unused). An engine
     * that shares work between prompts (sam-audio: one codec encode and one
     * batched transformer per chunk) sets both; the handle uses them when it
     * is opened for more than one prompt (samsep_engine_open_prompts).
     * open_prompts:    open() for prompts[0..n) (config->prompt is
     *                  ignored); the streams of that engine serve all n.
     * process_prompts: process_at() for every prompt j whose targets[j] is
     *                  not NULL: `frames` frames of `in` into targets[j] and,
     *                  when residual_mode is SAMSEP_RESIDUAL_ENGINE,
     *                  residuals[j] (else residuals[j] is NULL). A NULL
     *                  targets[j] means prompt j is not wanted for this file
     *                  (its outputs are already done); the engine should
     *                  skip its work. Prompt j's outputs must be those that
     *                  the engine opened for prompt j alone would give.
     * An engine without them, opened for n prompts, is opened once per
     * prompt and each chunk is run through each of those in turn.
     */
    int (*open_prompts)(const samsep_engine_config *config, const char *const *prompts,
                        int n, void **engine /* OUT */,
                        samsep_engine_info *info /* OUT */, char *err, size_t errlen);
    int (*process_prompts)(void *stream, const float *in, float *const *targets,
                           float *const *residuals, int64_t frames, int64_t start,
                           char *err, size_t errlen);
} samsep_engine_vtable;

typedef struct samsep_engine samsep_engine;

/*
 * Open the built-in engine `name` ("dsp", ...) with `config` (may be NULL
 * for defaults). On failure *out is NULL and `err` says why, e.g. an unknown
 * prompt lists the prompts the engine knows.
 */
SAMSEP_API int samsep_engine_open(const char *name, const samsep_engine_config *config,
                                  samsep_engine **out /* OUT */, char *err,
                                  size_t errlen);

/* Open an engine from the caller's own table, which MUST outlive the handle. */
SAMSEP_API int samsep_engine_open_custom(const samsep_engine_vtable *vtable,
                                         const samsep_engine_config *config,
                                         samsep_engine **out /* OUT */, char *err,
                                         size_t errlen);

/*
 * Open the built-in engine `name` for the n_prompts prompts `prompts`
 * (1 <= n_prompts <= SAMSEP_MAX_PROMPTS; config->prompt is ignored): one
 * pass over a file then writes a target and a residual per prompt
 * (samsep_separate_file_prompts). Engines with process_prompts share the
 * work of a chunk between the prompts; others are opened once per prompt
 * (the exec engine: one worker per prompt). With one prompt this is
 * samsep_engine_open. Two equal prompts are refused (SAMSEP_ERR_INVALID).
 */
#define SAMSEP_MAX_PROMPTS 64
SAMSEP_API int samsep_engine_open_prompts(const char *name,
                                          const samsep_engine_config *config,
                                          const char *const *prompts, int n_prompts,
                                          samsep_engine **out /* OUT */, char *err,
                                          size_t errlen);
SAMSEP_API int samsep_engine_open_prompts_custom(const samsep_engine_vtable *vtable,
                                                 const samsep_engine_config *config,
                                                 const char *const *prompts,
                                                 int n_prompts,
                                                 samsep_engine **out /* OUT */, char *err,
                                                 size_t errlen);

/*
 * Check that the built-in engine `name` would open with `config` (NULL for
 * defaults) without opening it: its check function, or an open and close
 * for engines without one. Returns SAMSEP_OK or the status open would
 * return, with the same message in err. Nothing large is loaded.
 */
SAMSEP_API int samsep_engine_check(const char *name, const samsep_engine_config *config,
                                   char *err, size_t errlen);
SAMSEP_API int samsep_engine_check_custom(const samsep_engine_vtable *vtable,
                                          const samsep_engine_config *config, char *err,
                                          size_t errlen);

/* Close an engine; NULL is allowed. */
SAMSEP_API void samsep_engine_close(samsep_engine *engine);

/* Name, prompt (the first, when several) and declared needs of an open
 * engine. */
SAMSEP_API const char *samsep_engine_name(const samsep_engine *engine);
SAMSEP_API const char *samsep_engine_prompt(const samsep_engine *engine);
/* How many prompts it was opened for, and prompt `index` of them (NULL out
 * of range). */
SAMSEP_API int samsep_engine_prompt_count(const samsep_engine *engine);
SAMSEP_API const char *samsep_engine_prompt_at(const samsep_engine *engine, int index);
SAMSEP_API const samsep_engine_info *samsep_engine_get_info(const samsep_engine *engine);

/* The built-in engines: the i-th table for 0 <= i < count, else NULL. */
SAMSEP_API const samsep_engine_vtable *samsep_engine_builtin(int index);

/*
 * The prompt vocabulary of the built-in "dsp" engine, one sound per index
 * 0, 1, ...: returns the sound's keyword (e.g. "drums"), or NULL when index
 * is out of range. *words (OUT, may be NULL) receives the other words and
 * phrases that select the same sound, ", "-separated; *what (OUT, may be
 * NULL) says what the target and the residual are. Matching ignores ASCII
 * case, punctuation, the articles "the/a/an", a plural -s and a leading
 * "man"/"woman"/... before a known word. All strings are static.
 */
SAMSEP_API const char *samsep_dsp_prompt(int index, const char **words /* OUT */,
                                         const char **what /* OUT */);

/* ------------------------------------------------------------------ */
/* Separating a file                                                   */
/* ------------------------------------------------------------------ */

typedef enum samsep_format {
    SAMSEP_FORMAT_AUTO = 0, /* same as the input if WAV or FLAC, else WAV */
    SAMSEP_FORMAT_WAV = 1,
    SAMSEP_FORMAT_FLAC = 2
} samsep_format;

typedef enum samsep_subtype {
    SAMSEP_SUBTYPE_AUTO = 0, /* same as the input where the format allows,
                                else 32-bit float (WAV) or 24-bit (FLAC) */
    SAMSEP_SUBTYPE_PCM16 = 1,
    SAMSEP_SUBTYPE_PCM24 = 2,
    SAMSEP_SUBTYPE_FLOAT = 3
} samsep_subtype;

/* What an input file holds, as read from its header and tags. */
typedef struct samsep_file_info {
    int64_t frames; /* -1 when the file cannot say before it is read */
    int sample_rate;
    int channels;
    char container[32];           /* e.g. "WAV", "FLAC", "OGG", "MPEG" */
    int auto_format;              /* what SAMSEP_FORMAT_AUTO gives for this input */
    char software[256];           /* the file's software tag, "" if none */
    char comment[SAMSEP_MSG_MAX]; /* the file's comment tag, "" if none */
} samsep_file_info;

/* Read the header and tags of `path` without decoding the audio (beyond the
 * first frame, for files read through FFmpeg). */
SAMSEP_API int samsep_probe_file(const char *path, samsep_file_info *info /* OUT */,
                                 char *err, size_t errlen);

/*
 * What this build reads. libsndfile is tried first; files it cannot read go
 * to FFmpeg's libraries (MP4/M4A, Matroska/WebM, ASF/WMA, video files' first
 * audio stream, ...). Entry `index` (0, 1, ...) names a container or codec
 * worth naming: returns 1 and fills *out, or 0 past the last. FFmpeg reads
 * more than it lists. Strings are static.
 */
typedef struct samsep_input_format {
    const char *library;    /* "libsndfile" or "FFmpeg" */
    const char *kind;       /* "container" or "codec" */
    const char *name;       /* e.g. "WAV (Microsoft)", "AAC (LC, HE, HE v2)" */
    const char *extensions; /* space-separated file extensions; "" for a codec */
} samsep_input_format;

SAMSEP_API int samsep_input_format_get(int index, samsep_input_format *out /* OUT */);

/* The decoding libraries and their versions, in the order they are tried
 * (e.g. "libsndfile-1.2.0, then FFmpeg 5.1.6 (...)"). Static. */
SAMSEP_API const char *samsep_input_libraries(void);

/* File name extension of a format: "wav" or "flac" (NULL for AUTO). */
SAMSEP_API const char *samsep_format_extension(int format);

/* Make the folder `path` and any missing parents (mode 0777 less the
 * umask), as mkdir -p does. Returns 0, or -1 with errno set. */
SAMSEP_API int samsep_make_dirs(const char *path);

/* Progress of one file, reported after each chunk. */
typedef struct samsep_progress {
    int64_t frames_done;  /* input frames whose outputs are written */
    int64_t frames_total; /* input frames (an estimate for some formats) */
    int64_t chunks_done;
    int64_t chunks_total; /* an estimate while frames_total is */
    int sample_rate;      /* of the input */
    double elapsed;       /* wall seconds since the file was opened */
} samsep_progress;

typedef void (*samsep_progress_fn)(void *user, const samsep_progress *progress);

/*
 * One block of a file's audio as it is written: the mixture (the input as
 * the engine was given it: downmixed when the outputs are mono), the target
 * and the residual, `frames` interleaved frames of `channels` channels each,
 * at the file's rate. Blocks come in order and cover the file once, frame
 * for frame, while it streams, so an observer (meters, pictures) needs no
 * second pass and holds no more than it chooses to.
 */
typedef struct samsep_tap_block {
    int64_t start; /* first frame of the block in the file */
    int64_t frames;
    int64_t frames_total; /* the file's length as far as known, -1 if not */
    int sample_rate;
    int channels;                             /* of the outputs */
    const float *mixture, *target, *residual; /* valid during the call only */
} samsep_tap_block;

typedef void (*samsep_tap_fn)(void *user, const samsep_tap_block *block);

/*
 * The outputs of an engine that works in mono (samsep_engine_info.channels
 * == 1) for an input of several channels. Engines that take any channels
 * give the input's channels whatever this says.
 */
typedef enum samsep_channels {
    /* The input's channels: per time-frequency bin (an STFT at the file's
     * rate), each channel of the mixture times |T| / |X|, the mono target
     * over the mono mixture, limited to [0, 1]; each channel's residual is
     * its mixture minus its target (an engine's own residual is not used).
     * The outputs stay frame for frame as long as the input. */
    SAMSEP_CHANNELS_KEEP = 0,
    /* Mono outputs: the engine's target and residual of the downmix. */
    SAMSEP_CHANNELS_MONO = 1
} samsep_channels;

typedef struct samsep_job {
    const char *input_path;
    const char *target_path;   /* final path of the target output */
    const char *residual_path; /* final path of the residual output */
    int format;                /* samsep_format of both outputs */
    int subtype;               /* samsep_subtype of both outputs */
    double chunk_seconds;      /* 0: the engine's preference, else 30 */
    double overlap_seconds;    /* < 0: the engine's preference, else 2 */
    int64_t chunk_frames;      /* > 0 overrides chunk_seconds (engine rate) */
    int64_t overlap_frames;    /* >= 0 overrides overlap_seconds when
                                  chunk_frames > 0 */
    samsep_progress_fn progress;
    void *progress_user;
    /* Polled between blocks; when it becomes non-zero the job stops, removes
     * its temporary files and returns SAMSEP_ERR_CANCELLED. May be NULL. */
    const volatile int *cancel;
    /* Appended to the provenance comment of both outputs ("; key=value..."),
     * e.g. the batch's source identity and settings. May be NULL. */
    const char *provenance;
    /* Called with every block the outputs receive. May be NULL. */
    samsep_tap_fn tap;
    void *tap_user;
    int channels; /* samsep_channels; 0 = SAMSEP_CHANNELS_KEEP */
    /* Span prompts in seconds of the file, in order (a later one overrides
     * an earlier where they overlap); each chunk gets those that overlap it
     * (samsep_anchors_for_chunk). Only for engines with set_anchors; the
     * job fails otherwise. NULL / 0: none. */
    const samsep_anchor *anchors;
    int n_anchors;
} samsep_job;

/* Initialise a job with defaults (AUTO format, engine's chunking). */
SAMSEP_API void samsep_job_init(samsep_job *job);

typedef struct samsep_report {
    int64_t frames;         /* input frames read (== frames of each output) */
    int sample_rate;        /* of the input and the outputs */
    int channels;           /* of the input */
    int out_channels;       /* of the outputs */
    int64_t chunks;         /* engine calls */
    int64_t clipped_target; /* samples clamped to fit an integer format */
    int64_t clipped_residual;
    int64_t nonfinite;            /* input samples that were NaN or infinite and
                                were replaced by 0 before the engine saw them */
    int64_t frames_promised;      /* when the file held fewer frames than its
                                header promised (it was cut short): the
                                header's count; else 0 */
    char note[256];               /* what the reader chose that the user should
                                know, e.g. which of several audio streams it
                                decoded; "" when nothing */
    double seconds;               /* wall time */
    char message[SAMSEP_MSG_MAX]; /* on failure: what went wrong, naming the file */
} samsep_report;

/*
 * Separate job->input_path with `engine`. Outputs are written under a
 * temporary name in their folder and renamed into place only when complete;
 * on failure no file is left under either final name by this call and the
 * temporaries are removed. `report` (may be NULL) receives figures and, on
 * failure, a message that names the file and the problem.
 *
 * Non-finite input samples (NaN, +-infinity) are replaced by 0 before the
 * engine sees them and counted in report->nonfinite (with a warning through
 * the log). An engine that returns a non-finite sample fails the file with
 * SAMSEP_ERR_ENGINE; no output ever holds one. A file cut short (fewer
 * frames than its header promises) is processed for the frames it holds,
 * with report->frames_promised set and a warning through the log.
 */
SAMSEP_API int samsep_separate_file(samsep_engine *engine, const samsep_job *job,
                                    samsep_report *report /* OUT */);

/*
 * One pass over job->input_path for an engine opened for several prompts:
 * outputs[j] names prompt j's target and residual (n_outputs equals
 * samsep_engine_prompt_count); job->target_path and residual_path are not
 * used. A NULL target_path leaves prompt j out of this file (e.g. its
 * outputs are done). The file is read, resampled and chunked once; each
 * pair is written as samsep_separate_file writes its two, with the pair's
 * own provenance (NULL: job->provenance) and its prompt in the tags. On
 * failure no pair is left under its final names, except pairs committed
 * before a later pair's commit failed, which are complete. report counts
 * clipped samples over all pairs; a tap sees the first pair written. With
 * one prompt this is samsep_separate_file.
 */
typedef struct samsep_output_pair {
    const char *target_path; /* NULL: this prompt is not wanted */
    const char *residual_path;
    const char *provenance; /* as samsep_job.provenance, for this pair */
} samsep_output_pair;

SAMSEP_API int samsep_separate_file_prompts(samsep_engine *engine, const samsep_job *job,
                                            const samsep_output_pair *outputs,
                                            int n_outputs,
                                            samsep_report *report /* OUT */);

/* ------------------------------------------------------------------ */
/* Batches: from command-line inputs to a safe plan                    */
/* ------------------------------------------------------------------ */

/*
 * A batch turns files and folders into a plan: one item per input file
 * found, each to be processed or skipped (with the reason) or already
 * failed (e.g. an .wav that is not audio). Planning refuses with
 * SAMSEP_ERR_UNSAFE, before anything is created, when the output folder is
 * an input folder, is inside one, or contains one, compared by
 * (st_dev, st_ino) of the folders and all their ancestors (files given as
 * inputs are not scanned: their own folder may be the output folder), and
 * when an output would replace a file given as input (the same st_dev,
 * st_ino) that samsep's tags do not mark as an earlier output. An item
 * whose output names would pass NAME_MAX fails on its own. It never plans a
 * samsep output as an input (by name suffix or by provenance tag), plans each
 * source file once (by st_dev, st_ino), gives no two items the same output
 * names, and marks as done the items whose outputs are complete and were made
 * from the same source with the same settings.
 */

typedef enum samsep_action {
    SAMSEP_ACTION_PROCESS = 0,
    SAMSEP_ACTION_SKIP = 1,
    SAMSEP_ACTION_FAIL = 2
} samsep_action;

typedef struct samsep_batch_config {
    const char *const *inputs; /* files and folders */
    int n_inputs;
    const char *outdir;               /* need not exist yet */
    int recursive;                    /* descend into sub-folders; outputs mirror them */
    const char *const *skip_suffixes; /* extra stem suffixes that mark outputs */
    int n_skip_suffixes;
    int format;      /* samsep_format of the outputs */
    int overwrite;   /* plan complete, current outputs again */
    int shard_index; /* 1..shard_count; 0 = no sharding */
    int shard_count;
    const char *settings; /* what makes outputs current besides the
                                   source, e.g. "engine=dsp;prompt=speech;..." */
} samsep_batch_config;

typedef struct samsep_item {
    const char *input;  /* path as found (input argument + relative path) */
    const char *target; /* planned output paths; NULL when skipped before naming */
    const char *residual;
    int action;             /* samsep_action */
    const char *reason;     /* why skipped or failed; NULL when processed */
    const char *provenance; /* for samsep_job.provenance */
    /* In a plan for several prompts (samsep_batch_plan_prompts): the item's
     * prompt and its index, or NULL and -1 for an item that stands for its
     * input alone (skipped or failed before any prompt); otherwise NULL, 0. */
    const char *prompt;
    int prompt_index;
} samsep_item;

typedef struct samsep_batch samsep_batch;

SAMSEP_API int samsep_batch_plan(const samsep_batch_config *config,
                                 samsep_batch **out /* OUT */, char *err, size_t errlen);

/*
 * A plan for several prompts (1 <= n_prompts <= SAMSEP_MAX_PROMPTS): each
 * input that is processed becomes n_prompts consecutive items, one per
 * prompt in order, named "<stem>_<part>_target.<ext>" and "..._residual",
 * where <part> is the prompt made into a file-name part: ASCII letters
 * lowered and digits kept, every other run of bytes one '-', no '-' at
 * either end, at most SAMSEP_PROMPT_PART_MAX bytes; when that had to be
 * cut, is empty, or is the part of another of the prompts, "-" and six hex
 * digits of a hash of the whole prompt follow (only the hash when empty),
 * so parts are stable from run to run and distinct within one. Settings
 * hash with ";prompt=<prompt>" appended, so each prompt's outputs are
 * current or not on their own: resume, claims and locks are per (input,
 * prompt). Inputs skipped or failing before that stay one item. Two equal
 * prompts are refused. With one prompt this is samsep_batch_plan (names
 * and settings as there).
 */
#define SAMSEP_PROMPT_PART_MAX 32
SAMSEP_API int samsep_batch_plan_prompts(const samsep_batch_config *config,
                                         const char *const *prompts, int n_prompts,
                                         samsep_batch **out /* OUT */, char *err,
                                         size_t errlen);
SAMSEP_API void samsep_batch_free(samsep_batch *batch);
SAMSEP_API int samsep_batch_count(const samsep_batch *batch);
SAMSEP_API const samsep_item *samsep_batch_item(const samsep_batch *batch, int index);

/*
 * Claim item `index` for processing: creates the output folder, takes an
 * exclusive lock (fcntl, which holds across processes and, where the
 * filesystem supports it, across NFS clients) on the item's lock file in the
 * output folder, removes stale temporaries of its outputs, and checks the
 * outputs are still not done. Returns SAMSEP_OK with *claim set, or
 * SAMSEP_ERR_BUSY (another process holds it; err says so), or
 * SAMSEP_ERR_EMPTY when another process has completed it meanwhile, or an
 * I/O error. Release with samsep_claim_release() after the job; the
 * release also removes the output folders the claim created when they are
 * still empty (the job wrote nothing), so a failed input leaves none.
 */
typedef struct samsep_claim samsep_claim;
SAMSEP_API int samsep_batch_claim(samsep_batch *batch, int index,
                                  samsep_claim **claim /* OUT */, char *err,
                                  size_t errlen);
SAMSEP_API void samsep_claim_release(samsep_claim *claim);

/*
 * For a program about to end at once (a second Ctrl-C): remove the hidden
 * temporary outputs and lock files of every job and claim in progress in
 * this process, and kill the worker processes its engines started (exec).
 * Async-signal-safe, so it may be called from a signal
 * handler; files under final names are never touched. The jobs in progress
 * must not go on afterwards: end the process.
 */
SAMSEP_API void samsep_remove_temporaries(void);

#ifdef __cplusplus
}
#endif

#endif /* SAMSEP_H */
