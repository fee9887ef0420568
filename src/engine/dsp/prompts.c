/*
 * prompts.c - the dsp engine's prompt vocabulary (see prompts.h).
 *
 * One table, `vocab`, holds every word or phrase the engine understands,
 * grouped by mode; a prompt matches when its normal form equals the normal
 * form of one of the table's entries. The normal form is computed the same
 * way for both: ASCII letters lowercased; everything that is not a letter or
 * digit (or a byte of a UTF-8 sequence) separates words, and so does a
 * change from digits to letters or back ("50Hz" is "50 hz"); the articles "the",
 * "a" and "an" dropped; a final -s dropped from words of more than three
 * letters not ending in -ss ("voices" -> "voice", "hiss" stays); and a
 * leading "who" word dropped when more follows ("a woman talking" ->
 * "talking"). So "The Drums!", "drum" and " DRUMS " are one prompt, and the
 * table can be read as the list samsep prints for --list-prompts.
 */
#include "engine/dsp/prompts.h"

#include <stdio.h>
#include <string.h>

#include "samsep.h"

typedef struct vocab_row {
    int mode;
    const char *keyword;
    const char *words; /* other words and phrases, ", "-separated */
    const char *what;  /* what the target and residual are */
} vocab_row;

/* In the order the lists show them; the keyword of a mode comes first. */
static const vocab_row vocab[] = {
    { DSP_MODE_SPEECH, "speech",
      "voice, voices, speaking, talking, dialogue, dialog, conversation, narration, "
      "spoken word, man speaking, woman talking",
      "target: speech; residual: the noise around it (noise tracking + MMSE gain)" },
    { DSP_MODE_NOISE, "noise",
      "background noise, ambient noise, room noise, hiss, static",
      "target: the noise; residual: the speech (the complement of speech)" },
    { DSP_MODE_MUSIC, "music",
      "harmonic, tonal, instruments, instrumental, melody, chords",
      "target: sustained, tonal sound (harmonic part of a harmonic/percussive split); "
      "residual: drums and what is neither" },
    { DSP_MODE_DRUMS, "drums",
      "the drums, drum kit, drumkit, percussion, percussive, beat, beats, rhythm",
      "target: drums and other short broadband hits (percussive part); "
      "residual: the tonal part and what is neither" },
    { DSP_MODE_VOCALS, "vocals",
      "vocal, lead vocal, lead vocals, singing, singer, singing voice, woman singing",
      "stereo: target = what is centre-panned and alike in both channels; mono: target = "
      "what does not repeat (foreground against a repeating backing)" },
    { DSP_MODE_HUM, "hum",
      "mains hum, mains, buzz, electrical hum, ground hum, ground loop, power line hum, "
      "50 Hz hum, 60 Hz hum, 50 Hz, 60 Hz",
      "target: mains hum (50 or 60 Hz, tracked) and its harmonics; "
      "residual: the recording without it" },
};
#define N_VOCAB ((int)(sizeof vocab / sizeof vocab[0]))

/* Leading words that say who makes the sound, dropped before a known word. */
static const char *const who[] = {
    "man",      "woman", "men",    "women",   "person",   "people",    "someone",
    "somebody", "male",  "female", "boy",     "girl",     "child",     "children",
    "kid",      "guy",   "lady",   "speaker", "narrator", "announcer",
};

/* Longest prompt considered; longer ones are not in the table anyway. */
#define NORM_MAX 128
#define WORDS_MAX 12

static int is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int word_is(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(w, s, n) == 0;
}

/*
 * Normal form of s[0..n) into out (NUL-terminated, words separated by one
 * blank). Returns 0, or -1 when the prompt is too long to be in the table.
 */
static int normalise(const char *s, size_t n, char out[NORM_MAX])
{
    char low[NORM_MAX];
    size_t start[WORDS_MAX], len[WORDS_MAX];
    int words = 0;
    size_t i = 0;

    while (i < n) {
        while (i < n && !is_word_byte((unsigned char)s[i]))
            i++;
        if (i >= n)
            break;
        size_t b = i;
        /* A change between digits and letters also ends a word: "50Hz" is
         * "50 hz". */
        while (i < n && is_word_byte((unsigned char)s[i]) &&
               (i == b || is_digit(s[i]) == is_digit(s[i - 1])))
            i++;
        size_t wl = i - b;
        if (words >= WORDS_MAX || wl >= NORM_MAX)
            return -1;
        /* Words are packed into low[], each after the last one kept (an
         * article's bytes are overwritten by the next word). */
        size_t at = words == 0 ? 0 : start[words - 1] + len[words - 1];
        if (at + wl > NORM_MAX)
            return -1;
        for (size_t j = 0; j < wl; j++) {
            unsigned char c = (unsigned char)s[b + j];
            low[at + j] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        const char *w = low + at;
        if (word_is(w, wl, "the") || word_is(w, wl, "a") || word_is(w, wl, "an"))
            continue;
        if (wl > 3 && w[wl - 1] == 's' && w[wl - 2] != 's')
            wl--;
        start[words] = at;
        len[words] = wl;
        words++;
    }

    int first = 0;
    if (words > 1) {
        for (size_t k = 0; k < sizeof who / sizeof who[0]; k++)
            if (word_is(low + start[0], len[0], who[k]))
                first = 1;
    }
    size_t o = 0;
    for (int k = first; k < words; k++) {
        if (o + len[k] + 2 > NORM_MAX)
            return -1;
        if (o > 0)
            out[o++] = ' ';
        memcpy(out + o, low + start[k], len[k]);
        o += len[k];
    }
    out[o] = '\0';
    return 0;
}

/* Does the normal form `norm` match the entry e[0..n) of the table? */
static int entry_matches(const char *norm, const char *e, size_t n)
{
    char en[NORM_MAX];
    return normalise(e, n, en) == 0 && strcmp(norm, en) == 0;
}

int dsp_prompt_mode(const char *prompt)
{
    if (prompt == NULL)
        return DSP_MODE_SPEECH;
    size_t n = strlen(prompt);
    char norm[NORM_MAX];
    if (normalise(prompt, n, norm) != 0)
        return -1;
    if (norm[0] == '\0') {
        /* Blank (or only punctuation and articles) means the default, as
         * NULL does, unless something that is not blank was there. */
        for (size_t i = 0; i < n; i++)
            if (prompt[i] != ' ' && (prompt[i] < '\t' || prompt[i] > '\r'))
                return -1;
        return DSP_MODE_SPEECH;
    }
    for (int r = 0; r < N_VOCAB; r++) {
        if (entry_matches(norm, vocab[r].keyword, strlen(vocab[r].keyword)))
            return vocab[r].mode;
        const char *p = vocab[r].words;
        while (*p != '\0') {
            const char *comma = strchr(p, ',');
            size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
            if (entry_matches(norm, p, len))
                return vocab[r].mode;
            p += len;
            while (*p == ',' || *p == ' ')
                p++;
        }
    }
    return -1;
}

const char *dsp_mode_keyword(int mode)
{
    for (int r = 0; r < N_VOCAB; r++)
        if (vocab[r].mode == mode)
            return vocab[r].keyword;
    return NULL;
}

void dsp_prompt_unknown_message(const char *prompt, char *err, size_t errlen)
{
    if (err == NULL || errlen == 0)
        return;
    const char *p = prompt != NULL ? prompt : "";
    size_t n = strlen(p);
    while (n > 0 && (*p == ' ' || (*p >= '\t' && *p <= '\r'))) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || (p[n - 1] >= '\t' && p[n - 1] <= '\r')))
        n--;
    char known[1024] = "";
    size_t used = 0;
    for (int r = 0; r < N_VOCAB; r++) {
        int w = snprintf(known + used, sizeof known - used, "%s%s (%s)",
                         r > 0 ? "; " : "", vocab[r].keyword, vocab[r].words);
        if (w < 0 || (size_t)w >= sizeof known - used)
            break;
        used += (size_t)w;
    }
    snprintf(err, errlen,
             "engine \"dsp\" does not know the prompt \"%.*s\"; it knows: %s "
             "(free-text prompts need the sam-audio engine)",
             n > 200 ? 200 : (int)n, p, known);
}

const char *samsep_dsp_prompt(int index, const char **words, const char **what)
{
    if (index < 0 || index >= N_VOCAB)
        return NULL;
    if (words != NULL)
        *words = vocab[index].words;
    if (what != NULL)
        *what = vocab[index].what;
    return vocab[index].keyword;
}
