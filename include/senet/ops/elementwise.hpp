#pragma once
/// \file elementwise.hpp
/// Element-wise kernels over NCHW tensors: per-channel affine (inference BatchNorm), per-channel
/// scale (the SE block's excitation), residual add.

#include <cmath>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/core/threading.hpp"

namespace senet {

/// `x[n, c, :, :] = x[n, c, :, :] * scale[c] + shift[c]` for `x` [N, C, H, W] (or [N, C]).
template <class T>
void channel_affine_inplace(Tensor<T>& x, const T* scale, const T* shift) {
  SENET_CHECK(x.rank() >= 2, "channel_affine: input must be [N, C, ...], got ", to_string(x.shape()));
  const Index N = x.dim(0), C = x.dim(1), plane = (N * C != 0) ? x.size() / (N * C) : 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (x.size() > 65536)
#endif
  for (Index nc = 0; nc < N * C; ++nc) {
    T* p = x.data() + nc * plane;
    const T a = scale[nc % C], b = shift[nc % C];
    for (Index i = 0; i < plane; ++i) p[i] = p[i] * a + b;
  }
}

/// `x[n, c, :, :] *= s[n, c]` for `x` [N, C, H, W] and `s` [N, C] (the SE scale).
template <class T>
void scale_channels_inplace(Tensor<T>& x, const Tensor<T>& s) {
  SENET_CHECK(x.rank() == 4 && s.size() == x.dim(0) * x.dim(1), "scale_channels: input ", to_string(x.shape()),
              " does not fit scale ", to_string(s.shape()));
  const Index planes = x.dim(0) * x.dim(1), plane = x.dim(2) * x.dim(3);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (x.size() > 65536)
#endif
  for (Index pl = 0; pl < planes; ++pl) {
    T* p = x.data() + pl * plane;
    const T a = s[pl];
    for (Index i = 0; i < plane; ++i) p[i] *= a;
  }
}

/// Residual add `y += x`; shapes must match.
template <class T>
void add_inplace(Tensor<T>& y, const Tensor<T>& x) {
  SENET_CHECK(y.shape() == x.shape(), "add: shapes ", to_string(y.shape()), " and ", to_string(x.shape()), " differ");
  const Index n = y.size();
  T* a = y.data();
  const T* b = x.data();
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (n > 65536)
#endif
  for (Index i = 0; i < n; ++i) a[i] += b[i];
}

}  // namespace senet
