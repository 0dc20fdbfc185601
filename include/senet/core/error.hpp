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

/// Throws `senet::Error` with the concatenated message when `condition` is false.
template <class... Args>
inline void check(bool condition, const Args&... message) {
  if (!condition) throw Error(detail::cat(message...));
}

}  // namespace senet
