/* pydeadlock run: a program under the preload shim. */
#ifndef PD_RUN_H
#define PD_RUN_H

int cmd_run(int argc, char **argv);

#endif
