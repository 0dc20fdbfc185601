#pragma once
// The `senet` tool's command-line parsing and what a command is. Standard library only, so that
// main.cpp compiles in a moment; the options that choose and load a model are in model_options.hpp.

#include <algorithm>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace senet_cli {

/// A command-line mistake: reported with a usage line, exit status 2.
struct UsageError {
  std::string message;
};

/// The names of a command's options: those followed by a value, and the flags.
struct OptionNames {
  std::set<std::string> valued, flags;
};

class Options;

/// One command of the tool: what it accepts and says of itself, and what it does. `senet --help`
/// is made from the commands' summaries, so that each text is written once.
struct Command {
  const char* name;
  const char* synopsis;  ///< what follows `senet NAME` on its usage line ('\n' where it wraps)
  const char* summary;   ///< what it does, in one line: its entry in the general usage
  std::string details;   ///< what its options mean, below the summary in `senet NAME --help`
  OptionNames options;
  bool positionals;  ///< whether arguments not starting with '-' are accepted (files)
  int (*run)(const Options&);
};

// Each in its cmd_NAME.cpp; main.cpp lists them.
Command models_command();
Command run_command();
Command summary_command();
Command bench_command();
Command classify_command();
Command excite_command();

/// The options of one command: `--key value`, `--flag` and, where the command takes them,
/// positional arguments.
class Options {
 public:
  /// Parses `args`, the arguments after the command word, against what `command` accepts.
  Options(const Command& command, const std::vector<std::string>& args) {
    const bool takes_nothing = command.options.valued.empty() && command.options.flags.empty() && !command.positionals;
    if (takes_nothing && !args.empty()) throw UsageError{"'" + std::string(command.name) + "' takes no options"};
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& arg = args[i];
      if (command.positionals && (arg.empty() || arg[0] != '-')) {
        positional_.push_back(arg);
      } else if (command.options.flags.count(arg)) {
        values_[arg] = "";
      } else if (command.options.valued.count(arg)) {
        if (i + 1 >= args.size()) throw UsageError{"option " + arg + " needs a value"};
        values_[arg] = args[++i];
      } else {
        throw UsageError{"unknown option '" + arg + "'"};
      }
    }
  }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  std::string get(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) throw UsageError{"missing required option " + key};
    return it->second;
  }
  long integer(const std::string& key, long fallback, long min = 1) const {
    const auto n = number<long>(key, [](const std::string& v, std::size_t* used) { return std::stol(v, used); });
    if (!n) return fallback;
    if (*n < min)
      throw UsageError{"option " + key + " needs an integer >= " + std::to_string(min) + ", got '" + get(key) + "'"};
    return *n;
  }
  double real(const std::string& key, double fallback) const {
    const auto x = number<double>(key, [](const std::string& v, std::size_t* used) { return std::stod(v, used); });
    if (!x) return fallback;
    if (!(*x > 0)) throw UsageError{"option " + key + " needs a positive number, got '" + get(key) + "'"};
    return *x;
  }
  /// The value of `key` if it is one of `choices`, else `fallback` when absent.
  std::string choice(const std::string& key, const std::vector<std::string>& choices,
                     const std::string& fallback) const {
    if (!has(key)) return fallback;
    const std::string v = get(key);
    if (std::find(choices.begin(), choices.end(), v) != choices.end()) return v;
    std::string all;
    for (const auto& c : choices) all += (all.empty() ? "" : "|") + c;
    throw UsageError{"option " + key + " must be " + all + ", got '" + v + "'"};
  }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  /// The whole value of `key` parsed by `parse` (std::stol / std::stod), none when absent; a
  /// value that is not entirely a number is a usage error.
  template <class N, class Parse>
  std::optional<N> number(const std::string& key, Parse parse) const {
    if (!has(key)) return std::nullopt;
    const std::string v = get(key);
    std::size_t used = 0;
    N n{};
    try {
      n = parse(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (v.empty() || used != v.size()) throw UsageError{"option " + key + " needs a number, got '" + v + "'"};
    return n;
  }

  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace senet_cli
