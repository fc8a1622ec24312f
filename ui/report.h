/* Printing a process model with its verdict: text (jstack-like) and JSON. */
#ifndef PD_REPORT_H
#define PD_REPORT_H

#include <stdio.h>

#include "common/model.h"

void report_text(FILE *out, const struct process_model *pm);
void report_json(FILE *out, const struct process_model *pm);
/* The JSON report into the file path; 0, or -1 (said on stderr). */
int report_json_to(const char *path, const struct process_model *pm);

#endif
