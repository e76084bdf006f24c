// A store header that reaches up into the registry: check_layers.cmake must reject it.
#pragma once
#include "registry/registry.h"
