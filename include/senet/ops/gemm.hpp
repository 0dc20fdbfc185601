#pragma once
/// \file gemm.hpp
/// `gemm`: `C = A * B` on row-major buffers, split across the OpenMP threads by senet itself.
/// Eigen's own OpenMP GEMM scales poorly on the thin shapes of convolutions (it was slower on two
/// threads than on one for SE-ResNet-50's stem), so each thread runs Eigen single-threaded on its
/// own block of rows or columns instead.

#include <Eigen/Core>

#include <algorithm>

#include "senet/core/tensor.hpp"
#include "senet/core/threading.hpp"

namespace senet {

/// `C [M, N] = A [M, K] * B [K, N]`, all row-major and contiguous (leading dimensions K, N, N).
template <class T>
void gemm(const T* A, const T* B, T* C, Index M, Index N, Index K) {
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<const RowMajor> a(A, M, K);
  Eigen::Map<const RowMajor> b(B, K, N);
  Eigen::Map<RowMajor> c(C, M, N);
  // Below ~1 MFLOP a second thread costs more than it brings.
  if (M * N * K < (Index(1) << 19)) {
    detail::run_in_thread_ranges(
        M, [&](Index, Index) { c.noalias() = a * b; }, 1, /*worth_threads=*/false);
    return;
  }
  // Split the longer output side; keep column blocks a multiple of 16 (one AVX-512 vector).
  if (N >= M) {
    detail::run_in_thread_ranges(
        N,
        [&](Index begin, Index end) {
          Eigen::Map<const RowMajor, 0, Stride> bt(B + begin, K, end - begin, Stride(N));
          Eigen::Map<RowMajor, 0, Stride> ct(C + begin, M, end - begin, Stride(N));
          ct.noalias() = a * bt;
        },
        16);
  } else {
    detail::run_in_thread_ranges(
        M,
        [&](Index begin, Index end) {
          Eigen::Map<const RowMajor> at(A + begin * K, end - begin, K);
          Eigen::Map<RowMajor> ct(C + begin * N, end - begin, N);
          ct.noalias() = at * b;
        },
        4);
  }
}

}  // namespace senet
