/*
 * The environment contract between 'pydeadlock run' and the preload shim
 * (owned by the env work; see tracer/shim/shim_env.h for the shim side).
 */
#ifndef PD_PRELOAD_ENV_H
#define PD_PRELOAD_ENV_H

#endif
