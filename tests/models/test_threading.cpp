// The thread-safety contract of models (senet/models/prepared.hpp, senet/core/threading.hpp):
// one model shared by many std::threads gives each the result it would get alone, on the naive and
// the prepared path; `set_num_threads` applies to every caller, also while others run; results are
// bit-identical from run to run at a thread count and agree across thread counts within 1e-6.
// Expected values: the same model run sequentially on one thread (the contract is equality with it).
// Run under ThreadSanitizer by scripts/sanitize.sh (ctest label `threading`).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "senet/core/threading.hpp"
#include "senet/models/prepared.hpp"
#include "senet/models/random_init.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace {

using senet::Index;
using senet::Model;
using senet::Tensor;

/// Restores the process-wide thread count when a test ends.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(senet::num_threads()) {}
  ~ThreadCountGuard() { senet::set_num_threads(saved_); }

 private:
  int saved_;
};

Tensor<float> random_input(const senet::Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  Tensor<float> x(shape);
  senet::test::fill_uniform(x, rng);
  return x;
}

bool bitwise_equal(const Tensor<float>& a, const Tensor<float>& b) {
  return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.size(), b.data());
}

/// A small SE-ResNet (seresnet18's topology, 32 classes) with seeded random weights.
std::unique_ptr<Model<float>> small_model() {
  auto model = senet::create_model<float>("seresnet18", 32);
  senet::randomize_parameters(*model, 21);
  return model;
}

/// Inputs of different batch sizes and image sizes, one per thread.
std::vector<Tensor<float>> thread_inputs(int count) {
  std::vector<Tensor<float>> inputs;
  for (int t = 0; t < count; ++t)
    inputs.push_back(random_input({Index(1 + t % 3), 3, Index(32 + 8 * (t % 2)), Index(40 - 8 * (t % 2))}, 100u + t));
  return inputs;
}

/// Runs `model` on every input from its own std::thread, `repeats` times each, all at once.
std::vector<std::vector<Tensor<float>>> run_concurrently(const Model<float>& model, const std::vector<Tensor<float>>& inputs,
                                                         int repeats) {
  std::vector<std::vector<Tensor<float>>> results(inputs.size());
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < inputs.size(); ++t)
    threads.emplace_back([&, t] {
      ++ready;
      while (ready.load() < int(inputs.size())) std::this_thread::yield();  // start together
      for (int r = 0; r < repeats; ++r) results[t].push_back(model.forward(inputs[t]));
    });
  for (auto& thread : threads) thread.join();
  return results;
}

void expect_shared_model_matches_sequential(const Model<float>& model) {
  const auto inputs = thread_inputs(8);
  std::vector<Tensor<float>> sequential;
  for (const auto& x : inputs) sequential.push_back(model.forward(x));
  const auto results = run_concurrently(model, inputs, 2);
  std::size_t compared = 0;
  for (std::size_t t = 0; t < inputs.size(); ++t)
    for (const auto& y : results[t]) {
      EXPECT_TRUE(bitwise_equal(y, sequential[t])) << "thread " << t;
      ++compared;
    }
  EXPECT_EQ(compared, 16u);
}

TEST(Threading, OneNaiveModelSharedByEightThreads) {
  ThreadCountGuard guard;
  senet::set_num_threads(1);
  const auto model = small_model();
  expect_shared_model_matches_sequential(*model);
}

TEST(Threading, OnePreparedModelSharedByEightThreads) {
  ThreadCountGuard guard;
  for (int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " senet threads per call");
    senet::set_num_threads(threads);
    const auto model = senet::prepare(small_model());
    ASSERT_NE(dynamic_cast<const senet::PreparedNetwork*>(model.get()), nullptr);
    expect_shared_model_matches_sequential(*model);
  }
}

#ifdef _OPENMP
/// The size of the team `run_in_thread_ranges` runs 64 items on when called from this thread.
int ranges_seen() {
  std::atomic<int> team{0};
  senet::detail::run_in_thread_ranges(64, [&](Index, Index) { team = omp_get_num_threads(); });
  return team.load();
}

// Every item runs exactly once, in calls that start on a multiple of the granule and end on one
// (or at the end), whatever the thread count and however the threads share the work.
TEST(Threading, ThreadRangesRunEveryItemOnceInGranules) {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3, 5})
    for (Index items : {1, 7, 64, 1000, 1001})
      for (Index granule : {1, 16}) {
        senet::set_num_threads(threads);
        std::vector<std::atomic<int>> runs(static_cast<std::size_t>(items));
        std::atomic<bool> misaligned{false};
        senet::detail::run_in_thread_ranges(
            items,
            [&](Index begin, Index end) {
              if (begin >= end || begin % granule != 0 || (end % granule != 0 && end != items)) misaligned = true;
              for (Index i = begin; i < end; ++i) ++runs[static_cast<std::size_t>(i)];
            },
            granule);
        EXPECT_FALSE(misaligned.load()) << threads << " threads, " << items << " items, granule " << granule;
        for (Index i = 0; i < items; ++i)
          ASSERT_EQ(runs[static_cast<std::size_t>(i)].load(), 1) << "item " << i << " of " << items << ", " << threads
                                                                 << " threads, granule " << granule;
      }
}

// A thread held up in its own range does not hold up the rest: the other takes pieces of it.
TEST(Threading, ThreadRangesLetAFreeThreadTakeASlowOnesWork) {
  ThreadCountGuard guard;
  senet::set_num_threads(2);
  const Index items = 256;  // thread 0 owns [0, 128), in pieces of 16
  std::vector<int> ran_by(static_cast<std::size_t>(items), -1);
  senet::detail::run_in_thread_ranges(items, [&](Index begin, Index end) {
    const int thread = omp_get_thread_num();
    if (thread == 0 && begin == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (Index i = begin; i < end; ++i) ran_by[static_cast<std::size_t>(i)] = thread;
  });
  int taken = 0;
  for (Index i = 0; i < items; ++i) {
    ASSERT_NE(ran_by[static_cast<std::size_t>(i)], -1) << "item " << i;
    taken += i < items / 2 && ran_by[static_cast<std::size_t>(i)] == 1;
  }
  EXPECT_GT(taken, 0) << "thread 1 took none of thread 0's items while thread 0 slept";
}

TEST(Threading, SetNumThreadsAppliesToEveryCaller) {
  ThreadCountGuard guard;
  senet::set_num_threads(1);
  int seen_count = 0, seen_ranges = 0;
  std::thread([&] {
    seen_count = senet::num_threads();
    seen_ranges = ranges_seen();
  }).join();
  EXPECT_EQ(seen_count, 1);
  EXPECT_EQ(seen_ranges, 1);

  // Set from a second thread, seen by this one and by a third.
  std::thread([] { senet::set_num_threads(2); }).join();
  EXPECT_EQ(senet::num_threads(), 2);
  EXPECT_EQ(ranges_seen(), 2);
  std::thread([&] { seen_ranges = ranges_seen(); }).join();
  EXPECT_EQ(seen_ranges, 2);

  // The calling thread's own OpenMP setting does not override senet's.
  omp_set_num_threads(1);
  EXPECT_EQ(ranges_seen(), 2);
  omp_set_num_threads(senet::detail::default_num_threads());
  senet::set_num_threads(0);  // counts as 1
  EXPECT_EQ(senet::num_threads(), 1);
}
#endif

// Another thread changes the count while forwards run: each call keeps the count it started with,
// so every result is one of the results at 1 or 3 threads (bitwise), and no call breaks.
TEST(Threading, ChangingTheThreadCountWhileOthersRun) {
  ThreadCountGuard guard;
  const auto model = senet::prepare(small_model());
  const auto inputs = thread_inputs(4);
  std::vector<std::vector<Tensor<float>>> expected(inputs.size());
  for (int threads : {1, 3}) {
    senet::set_num_threads(threads);
    for (std::size_t t = 0; t < inputs.size(); ++t) expected[t].push_back(model->forward(inputs[t]));
  }
  std::atomic<bool> done{false};
  std::thread toggler([&] {
    for (int i = 0; !done.load(); ++i) {
      senet::set_num_threads(i % 2 ? 3 : 1);
      std::this_thread::yield();
    }
  });
  const auto results = run_concurrently(*model, inputs, 3);
  done = true;
  toggler.join();
  for (std::size_t t = 0; t < inputs.size(); ++t)
    for (const auto& y : results[t])
      EXPECT_TRUE(bitwise_equal(y, expected[t][0]) || bitwise_equal(y, expected[t][1])) << "thread " << t;
}

// Same output bit for bit on every run at a given thread count (a fresh model and workspace, and a
// reused one), for batches that run image by image and layer by layer; within 1e-6 relative across
// thread counts.
TEST(Determinism, BitIdenticalAtAThreadCountAndCloseAcrossCounts) {
  ThreadCountGuard guard;
  const auto model = small_model();
  const auto& naive = *model;
  const auto prepared = [] { return senet::PreparedNetwork(small_model()); };  // the same weights
  for (Index batch : {1, 4, 5}) {
    const auto x = random_input({batch, 3, 48, 40}, unsigned(7 + batch));
    senet::set_num_threads(1);
    const Tensor<float> reference = prepared().forward(x);
    const Tensor<float> naive_reference = naive.forward(x);
    for (int threads : {1, 2, 3, 4}) {
      SCOPED_TRACE("batch " + std::to_string(batch) + ", " + std::to_string(threads) + " threads");
      senet::set_num_threads(threads);
      const senet::PreparedNetwork fast = prepared();
      const Tensor<float> first = fast.forward(x);
      EXPECT_TRUE(bitwise_equal(fast.forward(x), first)) << "a second call on the same model";
      EXPECT_TRUE(bitwise_equal(prepared().forward(x), first)) << "a freshly prepared model";
      EXPECT_LE(senet::test::relative_error(first, reference), 1e-6);
      const Tensor<float> naive_first = naive.forward(x);
      EXPECT_TRUE(bitwise_equal(naive.forward(x), naive_first)) << "naive, a second call";
      EXPECT_LE(senet::test::relative_error(naive_first, naive_reference), 1e-6);
    }
  }
}

}  // namespace
