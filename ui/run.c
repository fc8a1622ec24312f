/*
 * pydeadlock run: the command line.  The work is the supervisor's
 * (supervisor/supervisor.c).
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "supervisor/supervisor.h"
#include "ui/report.h"
#include "ui/run.h"

#define POTENTIAL_AFTER_S 10	/* a potential deadlock still this long is said */

static const char run_usage[] =
	"Usage: pydeadlock run [--on-deadlock=abort|report|break]\n"
	"                      [--victim=newest|oldest|fewest-locks]\n"
	"                      [--json-report=FILE] [--graph=FILE] [--abort-on-uncaught]\n"
	"                      [--potential-after=SECONDS] [--quiet] -- CMD [ARG...]\n";

/* SECONDS as a whole number of milliseconds, or -1. */
static int parse_seconds(const char *arg)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || v < 0 || v > INT_MAX / 1000)
		return -1;
	return (int)(v * 1000);
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_options o = {
		.policy = RUN_ABORT, .policy_name = "abort", .victim = "newest",
		.potential_after_ms = POTENTIAL_AFTER_S * 1000,
	};
	char err[512];
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.policy_name = optarg;
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
	if (optind >= argc) {
		error_msg("run: missing the command to run (pydeadlock run -- CMD [ARG...])");
		return EXIT_USAGE;
	}
	o.argv = argv + optind;
	return supervise(&o);
}
