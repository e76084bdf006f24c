// BlobHeatRegistry (32-byte keys). One file per key type: each holds only its own
// registry's code, so that the compiler's inlining budget for the hot loops
// is not shared with the other key type's.
#include "api/heat_registry_members.h"

namespace heatkit {

template class HeatRegistryOf<BlobKey>;

}  // namespace heatkit
