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
#include <cstdint>
#include <memory>

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

/// Whether the calling thread runs inside an OpenMP parallel region (senet's kernels then run on
/// it alone).
inline bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

/// One thread's share of a `run_in_thread_ranges` call, in granules: the owner takes pieces from
/// the front, threads done with their own take pieces from the back. `begin` and `end` share one
/// word so that a claim is a single compare-and-swap (and sit on their own cache line).
struct alignas(64) ThreadRange {
  std::atomic<std::uint64_t> bounds{0};  // begin in the low 32 bits, end in the high ones

  static std::uint64_t pack(std::uint64_t begin, std::uint64_t end) { return begin | end << 32; }
  /// Claims up to `piece` granules from the front (`front`) or the back; false when none is left.
  bool claim(std::uint64_t piece, bool front, std::uint64_t& begin, std::uint64_t& end) {
    std::uint64_t old = bounds.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint64_t b = old & 0xffffffffu, e = old >> 32;
      if (b >= e) return false;
      const std::uint64_t n = std::min(piece, e - b);
      begin = front ? b : e - n;
      end = front ? b + n : e;
      if (bounds.compare_exchange_weak(old, front ? pack(b + n, e) : pack(b, e - n), std::memory_order_relaxed))
        return true;
    }
  }
};

/// Runs `run(begin, end)` over `[0, items)`, every call on a multiple of `granule` items but the
/// last, on senet's threads, or whole on the calling thread: inside a parallel region, without
/// OpenMP, with one thread, or when `worth_threads` is false (too little work to pay for a team).
/// Each thread starts on its own contiguous range, in order (its slice of the data stays in its
/// cache); a thread done early takes pieces from the back of the others' ranges, so that one
/// thread slowed down (a busy core, a host that preempts it, a heavier share) does not hold up
/// the whole call. Measured on a shared 2-core VM: a static split lost ~30% of the second
/// thread on single convolutions, waiting at the end of each call for the slower half.
/// On the calling thread, OpenMP's team size is 1 for the duration, so that an Eigen product in
/// `run` stays on this thread (Eigen would otherwise start the calling thread's default team).
template <class Run>
void run_in_thread_ranges(Index items, const Run& run, Index granule = 1, bool worth_threads = true) {
#ifdef _OPENMP
  const int threads = num_threads();
  const Index units = (items + granule - 1) / granule;
  if (worth_threads && !in_parallel_region() && threads > 1 && units > 1 && units < (Index(1) << 32)) {
    // Pieces of an eighth of a thread's range: few enough that starting one costs nothing.
    const Index share = (units + threads - 1) / threads, piece = std::max<Index>(1, share / 8);
    // The calling thread's (a call inside the region below runs serially and never gets here),
    // kept between calls: a forward allocates nothing once planned.
    static thread_local std::unique_ptr<ThreadRange[]> kept;
    static thread_local int kept_count = 0;
    if (kept_count < threads) {
      kept.reset(new ThreadRange[std::size_t(threads)]);
      kept_count = threads;
    }
    ThreadRange* ranges = kept.get();
    for (Index t = 0; t < threads; ++t)
      ranges[t].bounds.store(
          ThreadRange::pack(std::uint64_t(std::min(units, t * share)), std::uint64_t(std::min(units, (t + 1) * share))),
          std::memory_order_relaxed);
    auto run_units = [&](std::uint64_t b, std::uint64_t e) {
      run(Index(b) * granule, std::min(items, Index(e) * granule));
    };
#pragma omp parallel num_threads(threads)
    {
      // A team smaller than asked for leaves the missing threads' ranges to be taken.
      const Index thread = omp_get_thread_num();
      std::uint64_t b = 0, e = 0;
      while (ranges[thread].claim(std::uint64_t(piece), true, b, e)) run_units(b, e);
      for (Index k = 1; k < threads; ++k)
        while (ranges[(thread + k) % threads].claim(std::uint64_t(piece), false, b, e)) run_units(b, e);
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
