// Umbrella header: the whole public host API.
#pragma once

#include "backends/backend.h"
#include "registry/concurrent_registry.h"
#include "store/counter_store.h"
#include "store/heat_counter.h"
#include "registry/registry.h"
#include "math/counter_math.h"
#include <heatkit/policy.h>
#include <heatkit/time.h>
