#include "tracer/shim/shim_env.h"
