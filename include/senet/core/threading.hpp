#pragma once
/// \file threading.hpp
/// Thread count control. senet parallelises with OpenMP when the build has it (the CMake target
/// adds it when found); without OpenMP everything runs on the calling thread.

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
