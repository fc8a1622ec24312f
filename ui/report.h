/* Printing a process model with its verdict: text (jstack-like) and JSON. */
#ifndef PD_REPORT_H
#define PD_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "common/model.h"

void report_text(FILE *out, const struct process_model *pm);
/*
 * How report_text writes, for the whole run: colour (ANSI) for a
 * terminal, and quiet (the verdict and the deadlocks' threads, no
 * thread-by-thread stacks).
 */
void report_text_style(bool colour, bool quiet);
/* Colour for fd: a terminal, NO_COLOR unset, TERM not "dumb". */
bool report_colour_for(int fd);
void report_json(FILE *out, const struct process_model *pm);
/* The JSON report into the file path; 0, or -1 (said on stderr). */
int report_json_to(const char *path, const struct process_model *pm);

#endif
