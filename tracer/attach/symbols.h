/*
 * Symbols for native program counters with elfutils' libdwfl: function,
 * module and, where debug information exists, file and line.
 */
#ifndef PD_SYMBOLS_H
#define PD_SYMBOLS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/model.h"

struct symbolizer;

/* Reports the modules of pid from /proc/PID/maps; NULL on failure. */
struct symbolizer *symbolizer_new(pid_t pid);
void symbolizer_free(struct symbolizer *s);

/*
 * Fill f's function, module, file and line for pc (copies, NULL where not
 * known).  A return address (every frame but the innermost) is looked up
 * at pc - 1 so that the line is the call's, not the next one's.
 */
void symbolizer_describe(struct symbolizer *s, uint64_t pc, bool is_return,
			 struct frame *f);

#endif
