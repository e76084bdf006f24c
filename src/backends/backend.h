// Run-time backend selection by name: the backend table's public half
// (<heatkit/backend.h>: list_backends, backend_info, the errors) and the
// factory the registry builds its store with.
#pragma once

#include <memory>
#include <string_view>

#include "store/counter_store.h"
#include <heatkit/backend.h>

namespace heatkit {

// A fresh, empty store of backend `name`. Throws UnknownBackend for a name no
// backend has, BackendUnavailable for one that cannot run here.
std::unique_ptr<CounterStore> make_store(std::string_view name);

// Makes GPU `ordinal` modulo the GPUs here the calling thread's device, for
// the device stores it makes next (one rank per GPU). Does nothing in a build
// without CUDA or on a machine without a GPU (make_store then says why).
void use_gpu(int ordinal);

}  // namespace heatkit
