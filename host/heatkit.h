// Umbrella header: the whole public host API.
#pragma once

#include "host/backend.h"
#include "host/concurrent_registry.h"
#include "host/counter_store.h"
#include "host/heat_counter.h"
#include "host/registry.h"
#include "kernels/counter_math.h"
#include "kernels/policy.h"
#include "kernels/time.h"
