/*
 * pydeadlock run: the command line.  The work is the supervisor's
 * (supervisor/supervisor.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "supervisor/records.h"
#include "supervisor/supervisor.h"
#include "ui/report.h"
#include "ui/run.h"
#include "ui/serial_cli.h"

#define POTENTIAL_AFTER_S 10	/* a potential deadlock still this long is said */

static const char run_usage[] =
	"Usage: pydeadlock run [--on-deadlock=abort|report|break]\n"
	"                      [--victim=newest|oldest|fewest-locks]\n"
	"                      [--json-report=FILE] [--graph=FILE] [--abort-on-uncaught]\n"
	"                      [--potential-after=SECONDS] [--act-on-potential]\n"
	"                      [--quiet] [--ending-fd=FD]\n"
	"                      [--lock-order [--suppressions=FILE]]\n"
	"                      [--profile[=FILE.svg]]\n"
	"                      [--serial [--seed=N] [--record=FILE] [--depth=D]\n"
	"                                [--interval=STEPS]]\n"
	"                      -- CMD [ARG...]\n";

/* SECONDS as a whole number of milliseconds, or -1. */
static int parse_seconds(const char *arg)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || v < 0 || v > INT_MAX / 1000)
		return -1;
	return (int)(v * 1000);
}

/* --ending-fd=FD: an open pipe's write end; its inode names the
 * program's listeners.  0, or -1 (said). */
static int ending_pipe(const char *arg, struct run_options *o)
{
	struct stat st;
	char *end;
	long fd = strtol(arg, &end, 10);

	if (end == arg || *end || fd < 0 || fd > INT_MAX) {
		error_msg("run: --ending-fd wants a descriptor number, not '%s'", arg);
		return -1;
	}
	if (fstat((int)fd, &st) < 0 || !S_ISFIFO(st.st_mode) ||
	    (fcntl((int)fd, F_GETFL) & O_ACCMODE) == O_RDONLY) {
		error_msg("run: --ending-fd=%ld is not the write end of an open pipe", fd);
		return -1;
	}
	o->ending_fd = (int)fd;
	o->ending_pipe = st.st_ino;
	/* run's own: the program does not get it */
	fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "on-deadlock", required_argument, NULL, 'o' },
		{ "json-report", required_argument, NULL, 'j' },
		{ "victim", required_argument, NULL, 'v' },
		{ "abort-on-uncaught", no_argument, NULL, 'u' },
		{ "potential-after", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "graph", required_argument, NULL, 'g' },
		{ "ending-fd", required_argument, NULL, 'e' },
		{ "act-on-potential", no_argument, NULL, 'P' },
		{ "serial", no_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 's' },
		{ "record", required_argument, NULL, 'r' },
		{ "depth", required_argument, NULL, 'd' },
		{ "steps", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'i' },
		{ "lock-order", no_argument, NULL, 'L' },
		{ "suppressions", required_argument, NULL, 'X' },
		{ "profile", optional_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_options o = {
		.policy = RUN_ABORT, .policy_name = "abort", .victim = "newest",
		.potential_after_ms = POTENTIAL_AFTER_S * 1000, .ending_fd = -1,
	};
	struct serial_options serial = { .seed = 1, .depth = SERIAL_DEPTH, .interval = -1 };
	bool serial_asked = false, policy_given = false;
	char err[512];
	int c, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.policy_name = optarg;
			policy_given = true;
			break;
		case 'L':
			o.lock_order = true;
			break;
		case 'X':
			o.suppressions = optarg;
			break;
		case 'F':
			o.profile = true;
			o.profile_svg = optarg;
			if (optarg && (strlen(optarg) < 5 ||
				       strcmp(optarg + strlen(optarg) - 4, ".svg"))) {
				error_msg("run: --profile=FILE draws an SVG: FILE must end in .svg, not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			o.json = optarg;
			break;
		case 'v':
			o.victim = optarg;
			break;
		case 'u':
			o.abort_on_uncaught = true;
			break;
		case 'p':
			o.potential_after_ms = parse_seconds(optarg);
			if (o.potential_after_ms < 0) {
				error_msg("run: --potential-after wants a number of seconds, not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'g':
			o.graph = optarg;
			if (report_graph_check(o.graph, err, sizeof(err)) < 0) {
				error_msg("run: %s", err);
				return EXIT_USAGE;
			}
			break;
		case 'P':
			o.act_on_potential = true;
			break;
		case 'e':
			if (ending_pipe(optarg, &o) < 0)
				return EXIT_USAGE;
			break;
		case 'S':
			serial.on = true;
			break;
		case 's':
		case 'd':
		case 'i':
		case 'n': {
			uint64_t v;

			if (!serial_parse_u64(optarg, 0, c == 'd' ? 32 : c == 'i' ? 1000000
							   : UINT64_MAX, &v)) {
				error_msg("run: --%s wants a number%s, not '%s'",
					  c == 's' ? "seed" : c == 'd' ? "depth" :
					  c == 'i' ? "interval" : "steps",
					  c == 'd' ? " from 0 to 32" : "", optarg);
				return EXIT_USAGE;
			}
			if (c == 's')
				serial.seed = v;
			else if (c == 'd')
				serial.depth = (int)v;
			else if (c == 'i')
				serial.interval = (int)v;
			else
				serial.steps = v;
			serial_asked = true;
			break;
		}
		case 'r':
			serial.record = optarg;
			serial_asked = true;
			break;
		case 'h':
			fputs(run_usage, stdout);
			return 0;
		default:
			error_msg("run: unknown option '%s' (see 'pydeadlock --help')",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (!strcmp(o.policy_name, "abort"))
		o.policy = RUN_ABORT;
	else if (!strcmp(o.policy_name, "report"))
		o.policy = RUN_REPORT;
	else if (!strcmp(o.policy_name, "break"))
		o.policy = RUN_BREAK;
	else {
		error_msg("run: --on-deadlock must be abort, report or break, not '%s'",
			  o.policy_name);
		return EXIT_USAGE;
	}
	if (strcmp(o.victim, "newest") && strcmp(o.victim, "oldest") &&
	    strcmp(o.victim, "fewest-locks")) {
		error_msg("run: --victim must be newest, oldest or fewest-locks, not '%s'",
			  o.victim);
		return EXIT_USAGE;
	}
	if (o.suppressions && !o.lock_order) {
		error_msg("run: --suppressions goes with --lock-order");
		return EXIT_USAGE;
	}
	if (o.suppressions && records_suppressions_check(o.suppressions) < 0)
		return EXIT_USAGE;
	/* a loop of lock orders ends the program at once only when asked */
	o.order_at_once = o.lock_order && policy_given && o.policy == RUN_ABORT;
	if (serial_asked && !serial.on) {
		error_msg("run: --seed, --record, --depth, --steps and --interval go with --serial");
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		error_msg("run: missing the command to run (pydeadlock run -- CMD [ARG...])");
		return EXIT_USAGE;
	}
	o.argv = argv + optind;
	o.serial = serial.on;
	if (serial_prepare(&serial) < 0)
		return EXIT_USAGE;
	status = supervise(&o);
	serial_finish(&serial, status);
	return status;
}
