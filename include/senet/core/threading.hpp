#pragma once
/// \file threading.hpp
/// Thread count control. senet parallelises with OpenMP when the build has it (the CMake target
/// adds it when found); without OpenMP everything runs on the calling thread.
///
/// The thread count is one process-wide setting: `set_num_threads(n)` applies to every later
/// call from any thread (the engine's workers, a server's request threads), not only to the
/// calling thread's OpenMP team. Every parallel region senet opens asks for exactly that many
/// threads; OpenMP keeps its workers between calls (the persistent pool of the fast engine).
/// Eigen's products inside senet run single-threaded on senet's own threads, so Eigen never
/// starts threads of its own behind senet's count (and senet never touches Eigen's setting).
///
/// Thread safety: `set_num_threads` and `num_threads` may be called from any thread at any time;
/// a call already running keeps the count it started with. Where other busy processes share the
/// cores, set `OMP_WAIT_POLICY=passive` so that waiting threads sleep instead of spinning.

#include <algorithm>
#include <atomic>

#include "senet/core/tensor.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace senet {

namespace detail {

/// The count set by `set_num_threads`; 0 until then.
inline std::atomic<int>& thread_count_setting() {
  static std::atomic<int> count{0};
  return count;
}

/// OpenMP's default team size at first use (`OMP_NUM_THREADS`, else all cores); 1 without OpenMP.
inline int default_num_threads() {
#ifdef _OPENMP
  static const int count = std::max(1, omp_get_max_threads());
  return count;
#else
  return 1;
#endif
}

}  // namespace detail

/// Number of threads senet's kernels use: the last `set_num_threads`, else OpenMP's default
/// (`OMP_NUM_THREADS`, else all cores). Always 1 in a build without OpenMP.
inline int num_threads() {
#ifdef _OPENMP
  const int n = detail::thread_count_setting().load(std::memory_order_relaxed);
  return n > 0 ? n : detail::default_num_threads();
#else
  return 1;
#endif
}

/// Sets the number of threads every later senet call uses, from whichever thread it comes
/// (n < 1 counts as 1). Process-wide and safe to call while other threads run senet.
inline void set_num_threads(int n) { detail::thread_count_setting().store(std::max(1, n), std::memory_order_relaxed); }

namespace detail {

/// Runs `run(begin, end)` over `[0, items)` split into one contiguous range per senet thread,
/// each a multiple of `granule` items but the last (so that each thread keeps its own slice of
/// the data in cache), or whole on the calling thread: inside a parallel region, without OpenMP,
/// with one thread, or when `worth_threads` is false (too little work to pay for a team).
/// On the calling thread, OpenMP's team size is 1 for the duration, so that an Eigen product in
/// `run` stays on this thread (Eigen would otherwise start the calling thread's default team).
template <class Run>
void run_in_thread_ranges(Index items, const Run& run, Index granule = 1, bool worth_threads = true) {
#ifdef _OPENMP
  const int threads = num_threads();
  if (worth_threads && !omp_in_parallel() && threads > 1 && items > granule) {
#pragma omp parallel num_threads(threads)
    {
      const Index team = omp_get_num_threads(), thread = omp_get_thread_num();
      const Index chunk = ((items + team - 1) / team + granule - 1) / granule * granule;
      const Index begin = std::min(items, thread * chunk), end = std::min(items, begin + chunk);
      if (begin < end) run(begin, end);
    }
    return;
  }
  // The calling thread's OpenMP setting (its data environment's, not a process global).
  struct OneOpenMPThread {
    int saved = omp_get_max_threads();
    OneOpenMPThread() { omp_set_num_threads(1); }
    ~OneOpenMPThread() { omp_set_num_threads(saved); }
  } one;
#else
  (void)granule;
  (void)worth_threads;
#endif
  run(Index(0), items);
}

}  // namespace detail

}  // namespace senet
