/* input.h: serve's input of lines. From a pipe (a FIFO such as the supervisor's, or a shell
 * pipe) with the journal on, lines leave the pipe only once they are in the journal: the
 * bytes are first copied out of the pipe without taking them (tee(2) into a private pipe),
 * their complete lines handled and journaled, and only then taken from the pipe. A serve
 * killed at any moment leaves in the pipe every line its journal lacks, and the next serve
 * takes them from there (what it has already is dropped by its position). Anything else
 * (a file, no journal) is read as it comes. */
#ifndef SERVE_INPUT_H
#define SERVE_INPUT_H

#include "ndj.h"

/* Sets up reading R's descriptor, by peeking when it is a pipe and PEEK is asked for. */
void input_start(struct ndj *r, int peek);
void input_stop(void);

/* Fills R from the input, as ndj_fill does (bytes, 0 at the end, -1 with errno). */
long input_fill(struct ndj *r);

/* After R's complete lines were handled and journaled: takes them from the pipe and drops
 * the incomplete rest from R, which the next input_fill brings again with what follows.
 * Returns 1 when nothing could be taken (only part of a line is there yet): the caller then
 * stops watching the input until its next tick. */
int input_done(struct ndj *r);

/* A hang-up of the writer: the rest of the pipe is read as it comes. */
void input_plain(struct ndj *r);

#endif
