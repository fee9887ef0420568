/*
 * engines.h - the built-in engines' tables, one per engine folder.
 *
 * The registry (engine.c) lists these; nothing else in the library names an
 * engine. Each engine lives in its own folder under src/engine/ and exports
 * exactly one samsep_engine_vtable.
 */
#ifndef SAMSEP_ENGINES_H
#define SAMSEP_ENGINES_H

#include "samsep.h"

/* Classical DSP separation by prompt keyword (src/engine/dsp/). */
extern const samsep_engine_vtable samsep_engine_dsp;

/* Native SAM-Audio: any sound named in free text (src/engine/sam/). */
extern const samsep_engine_vtable samsep_engine_sam_audio;

/* Any model as a separate worker process (src/engine/exec/). */
extern const samsep_engine_vtable samsep_engine_exec;

#endif
