#include "common/preload_env.h"
