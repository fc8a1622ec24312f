/* The shim's side of the environment contract (common/preload_env.h). */
#ifndef PD_SHIM_ENV_H
#define PD_SHIM_ENV_H

#endif
