/* pydeadlock run --serial, replay and explore: the command lines. */
#ifndef PD_SERIAL_CLI_H
#define PD_SERIAL_CLI_H

#include <stdbool.h>
#include <stdint.h>

#define SERIAL_DEPTH 3		/* PCT depth when not given */
#define SERIAL_RECORD_BYTES (64u << 20)	/* as the shim maps it */

struct serial_options {
	bool on;
	uint64_t seed;
	int depth;
	uint64_t steps;		/* PCT's guess of the run's length; 0: default */
	int interval;		/* GIL switch interval in steps; -1: default */
	const char *record;	/* --record=FILE */
	const char *replay;	/* replay's TRACE */
};

/*
 * The program's environment for a serial run (or, with s->on false, for
 * a run that is not: nothing of an outer one inherited).  Makes the
 * record file.  0, or -1 said.
 */
int serial_prepare(const struct serial_options *s);
/* After the run: the record file cut to what was written, and its end
 * line (the run's status). */
void serial_finish(const struct serial_options *s, int status);

/* A whole decimal number in [min, max], no sign: the serial options'. */
bool serial_parse_u64(const char *arg, uint64_t min, uint64_t max, uint64_t *v);

int cmd_replay(int argc, char **argv);
int cmd_explore(int argc, char **argv);

#endif
