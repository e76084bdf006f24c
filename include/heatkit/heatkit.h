// The whole public API of heatkit:
//   time.h                 Duration, Instant (nanoseconds of one monotonic clock)
//   policy.h               Policy, its validation and InvalidPolicy
//   decision.h             Decision: what the emission gate decided
//   heat_counter.h         HeatCounter (one counter as a value), HeatEmission
//   backend.h              the backends by name: list_backends, backend_info, errors
//   registry.h             HeatRegistry, BlobHeatRegistry and their options and stats
//   concurrent_registry.h  ConcurrentHeatRegistry, ConcurrentBlobHeatRegistry
#pragma once

#include <heatkit/backend.h>
#include <heatkit/concurrent_registry.h>
#include <heatkit/decision.h>
#include <heatkit/heat_counter.h>
#include <heatkit/policy.h>
#include <heatkit/registry.h>
#include <heatkit/snapshot.h>
#include <heatkit/time.h>
