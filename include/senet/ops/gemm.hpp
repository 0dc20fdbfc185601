#pragma once
/// \file gemm.hpp
/// `gemm`: `C = A * B` on row-major buffers, split across the OpenMP threads by senet itself.
/// Eigen's own OpenMP GEMM scales poorly on the thin shapes of convolutions (it was slower on two
/// threads than on one for SE-ResNet-50's stem), so each thread runs Eigen single-threaded on its
/// own block of rows or columns instead.

#include <Eigen/Core>

#include <algorithm>

#include "senet/core/tensor.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace senet {

/// `C [M, N] = A [M, K] * B [K, N]`, all row-major and contiguous (leading dimensions K, N, N).
template <class T>
void gemm(const T* A, const T* B, T* C, Index M, Index N, Index K) {
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<const RowMajor> a(A, M, K);
  Eigen::Map<const RowMajor> b(B, K, N);
  Eigen::Map<RowMajor> c(C, M, N);
  int threads = 1;
#ifdef _OPENMP
  // Below ~1 MFLOP a second thread costs more than it brings.
  if (!omp_in_parallel() && M * N * K >= (Index(1) << 19)) threads = omp_get_max_threads();
#endif
  if (threads <= 1) {
    c.noalias() = a * b;
    return;
  }
  // Split the longer output side; keep column blocks a multiple of 16 (one AVX-512 vector).
  const bool by_columns = N >= M;
  const Index extent = by_columns ? N : M;
  const Index align = by_columns ? 16 : 4;
  const Index chunk = ((extent + threads - 1) / threads + align - 1) / align * align;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
  for (int t = 0; t < threads; ++t) {
    const Index begin = std::min<Index>(extent, t * chunk), end = std::min<Index>(extent, begin + chunk);
    if (begin == end) continue;
    if (by_columns) {
      Eigen::Map<const RowMajor, 0, Stride> bt(B + begin, K, end - begin, Stride(N));
      Eigen::Map<RowMajor, 0, Stride> ct(C + begin, M, end - begin, Stride(N));
      ct.noalias() = a * bt;
    } else {
      Eigen::Map<const RowMajor> at(A + begin * K, end - begin, K);
      Eigen::Map<RowMajor> ct(C + begin * N, end - begin, N);
      ct.noalias() = at * b;
    }
  }
}

}  // namespace senet
