#pragma once
/// \file threading.hpp
/// Thread count control. senet parallelises with OpenMP when the build has it (the CMake target
/// adds it when found); without OpenMP everything runs on the calling thread. The threads are
/// OpenMP's team, created once and kept between calls (the persistent pool of the fast engine):
/// `set_num_threads` sizes it, all cores by default. Where other busy processes share the cores,
/// set `OMP_WAIT_POLICY=passive` so that waiting threads sleep instead of spinning.

#include <Eigen/Core>

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

}  // namespace senet
