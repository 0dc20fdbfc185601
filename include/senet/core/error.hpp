#pragma once
/// \file error.hpp
/// The single exception type of senet and the helpers that format its messages.

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace senet {

/// Thrown at every API boundary for bad input: damaged files, missing or mis-shaped keys,
/// tensors of the wrong shape. The message names the file, key and shapes involved.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {

/// Concatenates streamable values into one string: `cat("shape ", 3, "x", 4)`.
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace detail

/// Throws `senet::Error` with the streamed message when `condition` is false. A macro so that the
/// message arguments (shape strings and the like) are evaluated only on failure: checks on hot
/// paths cost one comparison and never allocate.
#define SENET_CHECK(condition, ...)                                            \
  do {                                                                         \
    if (!(condition)) throw ::senet::Error(::senet::detail::cat(__VA_ARGS__)); \
  } while (false)

}  // namespace senet
