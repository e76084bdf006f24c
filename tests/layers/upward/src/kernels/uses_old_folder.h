// A kernel header naming a folder that is no layer: check_layers.cmake must reject it.
#pragma once
#include "host/registry.h"
