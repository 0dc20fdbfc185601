#pragma once
/// \file linear.hpp
/// Fully connected layer as an Eigen GEMM over the batch, its outputs split over the threads.

#include <Eigen/Core>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/core/threading.hpp"

namespace senet {

/// `y [N, out] = x [N, in] * w^T + bias`, with `w` stored as PyTorch does: `[out, in]` (or
/// `[out, in, 1, 1]` for a 1x1 conv used as an FC). `bias` is `[out]` or null. `x` may have any
/// shape with N rows of `in` elements.
template <class T>
void linear(const Tensor<T>& x, const Tensor<T>& w, const T* bias, Tensor<T>& y);

/// `linear` on raw rows (for engines with their own buffers): `x` is N rows of `in` contiguous
/// values, row `n` of `y` starts at `y + n * y_stride` (`y_stride >= out`; the rest of a row is
/// left alone).
template <class T>
void linear(const T* x, Index N, const Tensor<T>& w, const T* bias, T* y, Index y_stride) {
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Index out = w.dim(0), in = w.size() / (out ? out : 1);
  const Eigen::Map<const RowMajor> X(x, N, in);
  // Outputs [begin, end): each thread reads its own rows of the weights once, which is what a
  // few rows of x cost (Eigen's own threads were 2x slower on 2 cores than 1 for 8 rows).
  auto run = [&](Index begin, Index end) {
    Eigen::Map<RowMajor, 0, Eigen::OuterStride<>> Y(y + begin, N, end - begin, Eigen::OuterStride<>(y_stride));
    Y.noalias() = X * Eigen::Map<const RowMajor>(w.data() + begin * in, end - begin, in).transpose();
    if (bias) Y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias + begin, end - begin);
  };
  // Below ~1 MFLOP a second thread costs more than it brings (as in `gemm`).
  detail::run_in_thread_ranges(out, run, 16, /*worth_threads=*/N * in * out >= (Index(1) << 19));
}

template <class T>
void linear(const Tensor<T>& x, const Tensor<T>& w, const T* bias, Tensor<T>& y) {
  const Index out = w.dim(0), in = w.size() / (out ? out : 1);
  SENET_CHECK(x.rank() >= 1 && x.dim(0) * in == x.size(), "linear: input ", to_string(x.shape()),
              " does not fit weight ", to_string(w.shape()));
  const Index N = x.dim(0);
  SENET_CHECK(y.size() == N * out, "linear: output must hold ", N, "x", out, " values, got ", to_string(y.shape()));
  linear(x.data(), N, w, bias, y.data(), out);
}

}  // namespace senet
