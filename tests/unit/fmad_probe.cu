// The shapes of heatkit's device math where nvcc could contract a*b+c into
// one fused multiply-add, which rounds once where the scalar reference rounds
// twice: a bump (decay by a factor, then + count), a timed bump step, and the
// composition of two affine steps (cuda/device_passes.cu ComposeSteps). Built
// to PTX only; check_no_fma.cmake reads it (tests/unit/CMakeLists.txt).
#include "cuda/device_passes.h"
#include "math/counter_math.h"

__global__ void fmad_probe(const double* in, double* out) {
  using namespace heatkit;
  out[0] = apply_decay_factor(in[0], in[1]) + in[2];
  out[1] = in[3] * in[4] + 1.0;
  const gpu::AffineStep left{in[5], in[6]}, right{in[7], in[8]};
  out[2] = right.a * left.b + right.b;
  out[3] = left.a * right.a;
}
