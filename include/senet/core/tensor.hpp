#pragma once
/// \file tensor.hpp
/// `senet::Tensor<T>`: an owning, contiguous, 64-byte aligned, row-major (NCHW) array.

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "senet/core/error.hpp"

namespace senet {

/// Signed index type used for sizes and shapes (signed so that padding arithmetic is plain).
using Index = std::int64_t;
/// A tensor shape, outermost dimension first: `{N, C, H, W}` for images.
using Shape = std::vector<Index>;

/// Alignment of every tensor buffer: one cache line, one AVX-512 vector.
inline constexpr std::size_t kTensorAlignment = 64;

/// Tag for a tensor whose elements the caller overwrites at once: `Tensor<float>(shape, uninitialized)`
/// skips the zero-fill (a full pass over memory) on hot paths.
struct Uninitialized {};
inline constexpr Uninitialized uninitialized{};

/// Formats a shape as `[2, 64, 5, 7]`.
inline std::string to_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

/// Number of elements of `shape`; throws `senet::Error` on a negative extent or on overflow,
/// so that shapes read from files cannot wrap around.
inline Index shape_numel(const Shape& shape) {
  Index n = 1;
  for (Index d : shape) {
    SENET_CHECK(d >= 0, "negative extent in shape ", to_string(shape));
    if (d != 0 && n > std::numeric_limits<Index>::max() / d)
      throw Error("shape " + to_string(shape) + " has too many elements");
    n *= d;
  }
  return n;
}

namespace detail {
struct AlignedFree {
  void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t(kTensorAlignment)); }
};
}  // namespace detail

/// An owning, contiguous, row-major tensor of `T` (float or double).
///
/// Images are `[N, C, H, W]`; matrices `[rows, cols]`. The buffer is 64-byte aligned and
/// zero-filled on construction. Copies are deep; moves are cheap. `matrix()` and `vector()`
/// give Eigen views of the same memory without copying.
///
/// \code
/// senet::Tensor<float> x({2, 64, 5, 7});   // zero-filled, x.size() == 4480
/// x.at({0, 1, 2, 3}) = 1.0f;
/// auto m = x.matrix(2, 64 * 5 * 7);        // Eigen::Map, row-major
/// \endcode
template <class T>
class Tensor {
 public:
  using Scalar = T;
  using MatrixMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, Eigen::Aligned64>;
  using ConstMatrixMap =
      Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, Eigen::Aligned64>;
  using VectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>, Eigen::Aligned64>;
  using ConstVectorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>, Eigen::Aligned64>;

  /// An empty tensor: shape `[0]`, no elements, `data()` null.
  Tensor() = default;
  /// A zero-filled tensor of the given shape.
  explicit Tensor(Shape shape) : shape_(std::move(shape)), size_(shape_numel(shape_)) { allocate(/*zero=*/true); }
  /// A tensor of the given shape with unspecified elements, for outputs written in full.
  Tensor(Shape shape, Uninitialized) : shape_(std::move(shape)), size_(shape_numel(shape_)) { allocate(/*zero=*/false); }
  Tensor(std::initializer_list<Index> shape) : Tensor(Shape(shape)) {}

  Tensor(const Tensor& other) : shape_(other.shape_), size_(other.size_) {
    allocate(/*zero=*/false);
    if (size_) std::memcpy(data_.get(), other.data_.get(), bytes());
  }
  Tensor& operator=(const Tensor& other) {
    if (this != &other) *this = Tensor(other);
    return *this;
  }
  Tensor(Tensor&& other) noexcept
      : shape_(std::exchange(other.shape_, Shape{0})),
        size_(std::exchange(other.size_, 0)),
        data_(std::move(other.data_)) {}
  Tensor& operator=(Tensor&& other) noexcept {
    shape_ = std::exchange(other.shape_, Shape{0});
    size_ = std::exchange(other.size_, 0);
    data_ = std::move(other.data_);
    return *this;
  }

  /// Extents, outermost first.
  const Shape& shape() const noexcept { return shape_; }
  /// Extent of dimension `i`; negative `i` counts from the end.
  Index dim(Index i) const {
    const Index r = rank();
    if (i < 0) i += r;
    SENET_CHECK(i >= 0 && i < r, "dimension ", i, " out of range for shape ", to_string(shape_));
    return shape_[static_cast<std::size_t>(i)];
  }
  Index rank() const noexcept { return static_cast<Index>(shape_.size()); }
  /// Number of elements.
  Index size() const noexcept { return size_; }
  std::size_t bytes() const noexcept { return static_cast<std::size_t>(size_) * sizeof(T); }
  bool empty() const noexcept { return size_ == 0; }

  T* data() noexcept { return static_cast<T*>(data_.get()); }
  const T* data() const noexcept { return static_cast<const T*>(data_.get()); }
  T* begin() noexcept { return data(); }
  T* end() noexcept { return data() + size_; }
  const T* begin() const noexcept { return data(); }
  const T* end() const noexcept { return data() + size_; }
  T& operator[](Index i) noexcept { return data()[i]; }
  const T& operator[](Index i) const noexcept { return data()[i]; }

  /// Element at a full multi-index (bounds-checked; for tests and tools, not inner loops).
  T& at(std::initializer_list<Index> index) { return data()[offset(index)]; }
  const T& at(std::initializer_list<Index> index) const { return data()[offset(index)]; }

  /// Sets every element to `value`.
  void fill(T value) { std::fill(begin(), end(), value); }

  /// The same elements under another shape with the same element count.
  Tensor reshaped(Shape shape) const& {
    Tensor t(*this);
    t.reshape(std::move(shape));
    return t;
  }
  Tensor reshaped(Shape shape) && {
    reshape(std::move(shape));
    return std::move(*this);
  }
  void reshape(Shape shape) {
    const Index n = shape_numel(shape);
    SENET_CHECK(n == size_, "cannot reshape ", to_string(shape_), " to ", to_string(shape));
    shape_ = std::move(shape);
  }

  /// Row-major Eigen view as a `rows x cols` matrix; `rows * cols` must equal `size()`.
  MatrixMap matrix(Index rows, Index cols) {
    SENET_CHECK(rows * cols == size_, "cannot view ", to_string(shape_), " as ", rows, "x", cols);
    return MatrixMap(data(), rows, cols);
  }
  ConstMatrixMap matrix(Index rows, Index cols) const {
    SENET_CHECK(rows * cols == size_, "cannot view ", to_string(shape_), " as ", rows, "x", cols);
    return ConstMatrixMap(data(), rows, cols);
  }
  /// All elements as an Eigen column vector.
  VectorMap vector() { return VectorMap(data(), size_); }
  ConstVectorMap vector() const { return ConstVectorMap(data(), size_); }

 private:
  void allocate(bool zero) {
    if (size_ == 0) return;
    void* p = ::operator new(bytes(), std::align_val_t(kTensorAlignment));
    if (zero) std::memset(p, 0, bytes());
    data_.reset(p);
  }
  Index offset(std::initializer_list<Index> index) const {
    SENET_CHECK(static_cast<Index>(index.size()) == rank(), "index of rank ", index.size(), " for shape ",
                to_string(shape_));
    Index off = 0;
    std::size_t d = 0;
    for (Index i : index) {
      SENET_CHECK(i >= 0 && i < shape_[d], "index out of range for shape ", to_string(shape_));
      off = off * shape_[d++] + i;
    }
    return off;
  }

  Shape shape_{0};  // empty, not 0-d: a 0-d tensor (shape {}) holds one element
  Index size_ = 0;
  std::unique_ptr<void, detail::AlignedFree> data_;
};

}  // namespace senet
