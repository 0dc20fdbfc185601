// The fast engine's memory behaviour: after the first call at an input shape, `forward` takes no
// activation memory from the allocator (it runs on the workspace planned for that shape); only
// the returned logits are allocated. Its own executable: it replaces the global operator new.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "senet/models/prepared.hpp"
#include "senet/models/random_init.hpp"
#include "senet/models/zoo.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<long long> allocations{0}, bytes{0}, largest{0};

void* counted(std::size_t n, std::size_t align) {
  if (counting.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1);
    bytes.fetch_add(static_cast<long long>(n));
    long long seen = largest.load();
    while (static_cast<long long>(n) > seen && !largest.compare_exchange_weak(seen, static_cast<long long>(n))) {
    }
  }
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align)
                                              : std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

// The whole replaceable set, nothrow forms included (std::stable_sort's buffer uses one), so that
// nothing is allocated by one allocator and freed by another.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return counted(n, static_cast<std::size_t>(a));
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept {
  return operator new(n, a, t);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void* operator new(std::size_t n) { return counted(n, 0); }
void* operator new[](std::size_t n) { return counted(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

TEST(PreparedArena, ForwardAllocatesOnlyItsOutputAfterTheFirstCall) {
  for (const char* name : {"seresnet50", "seresnet18"}) {
    SCOPED_TRACE(name);
    auto model = senet::create_model<float>(name);
    senet::randomize_parameters(*model, 3);
    const auto fast = senet::prepare(std::move(model));
    senet::Tensor<float> x({2, 3, 96, 96});
    for (senet::Index i = 0; i < x.size(); ++i) x[i] = float((i * 37) % 101) / 50.0f - 1.0f;
    const auto first = fast->forward(x);  // plans the workspace
    allocations = 0;
    bytes = 0;
    largest = 0;
    counting = true;
    const auto second = fast->forward(x);
    counting = false;
    // The logits: their data and their shape vector.
    EXPECT_LE(allocations.load(), 2) << bytes.load() << " bytes";
    EXPECT_LE(largest.load(), static_cast<long long>(second.size() * sizeof(float)));
    for (senet::Index i = 0; i < first.size(); ++i) ASSERT_EQ(first[i], second[i]) << i;
  }
}

}  // namespace
