#pragma once
/// \file threading.hpp
/// Thread count control. senet parallelises with OpenMP when the build has it (the CMake target
/// adds it when found); without OpenMP everything runs on the calling thread. The threads are
/// OpenMP's team, created once and kept between calls (the persistent pool of the fast engine):
/// `set_num_threads` sizes it, all cores by default. Where other busy processes share the cores,
/// set `OMP_WAIT_POLICY=passive` so that waiting threads sleep instead of spinning.

#include <Eigen/Core>

#include <algorithm>

#include "senet/core/tensor.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace senet {

/// Number of threads the kernels use; defaults to all cores.
inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Sets the number of threads used by senet kernels and by Eigen's GEMM (n >= 1).
inline void set_num_threads(int n) {
  if (n < 1) n = 1;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(n);
}

namespace detail {

/// Runs `run(begin, end)` over `[0, items)` split into one contiguous range per OpenMP thread,
/// each a multiple of `granule` items but the last (so that each thread keeps its own slice of
/// the data in cache), or whole on the calling thread inside a parallel region or without OpenMP.
template <class Run>
void run_in_thread_ranges(Index items, const Run& run, Index granule = 1) {
#ifdef _OPENMP
  if (!omp_in_parallel() && omp_get_max_threads() > 1 && items > granule) {
#pragma omp parallel
    {
      const Index threads = omp_get_num_threads(), thread = omp_get_thread_num();
      const Index chunk = ((items + threads - 1) / threads + granule - 1) / granule * granule;
      const Index begin = std::min(items, thread * chunk), end = std::min(items, begin + chunk);
      if (begin < end) run(begin, end);
    }
    return;
  }
#endif
  run(Index(0), items);
}

}  // namespace detail

}  // namespace senet
