/* Printing a process model with its verdict: text (jstack-like) and JSON. */
#ifndef PD_REPORT_H
#define PD_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "common/model.h"

void report_text(FILE *out, const struct process_model *pm);
/* What w waits for: "lock 0x55d0 (_thread.lock) with a timeout". */
void report_wait_object(FILE *out, const struct wait_info *w);
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

/*
 * The wait-for graph: DOT text, or a picture by Graphviz's dot, the
 * format by the file's name (.dot .gv: the text; .svg .png .pdf: dot's).
 * report_graph_check says, before anything is run, whether the path can
 * be drawn (its format known, dot found): 0, or -1 with err filled.
 * report_graph_to writes it: 0, or -1 (said on stderr).
 */
void report_graph(FILE *out, const struct process_model *pm);
int report_graph_check(const char *path, char *err, size_t size);
int report_graph_to(const char *path, const struct process_model *pm);

/* attach --profile's report: text, or one JSON object. */
struct profile_samples;
void report_profile(FILE *out, struct profile_samples *p, bool json);

#endif
