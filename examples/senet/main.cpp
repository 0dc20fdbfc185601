// The `senet` command-line tool: list, run, summarise and benchmark SE networks, classify images.
// Each command lives in its cmd_NAME.cpp with its options and usage; this file picks one.
//
// Exit status: 0 success, 1 bad input (message `senet: error: ...` on stderr), 2 usage error.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cli_options.hpp"

namespace {

using senet_cli::Command;
using senet_cli::UsageError;

/// What `senet --help` prints: every command with its summary.
std::string general_usage(const std::vector<Command>& commands) {
  std::size_t width = 0;
  for (const auto& c : commands) width = std::max(width, std::strlen(c.name));
  std::string text = "usage: senet <command> [options]\ncommands:\n";
  for (const auto& c : commands) {
    const std::string name = c.name;
    text += "  " + name + std::string(width - name.size() + 2, ' ') + c.summary + "\n";
  }
  return text + "'senet <command> --help' explains a command's options.\n";
}

/// The usage line of one command, as usage errors show it; a long synopsis continues on lines
/// indented to its start.
std::string usage_line(const Command& c) {
  const std::string head = "usage: senet " + std::string(c.name) + (*c.synopsis ? " " : "");
  std::string text = head;
  for (const char* s = c.synopsis; *s; ++s) {
    text += *s;
    if (*s == '\n') text += std::string(head.size(), ' ');
  }
  return text + "\n";
}

/// What `senet NAME --help` prints.
std::string command_usage(const Command& c) { return usage_line(c) + c.summary + "\n\n" + c.details; }

const Command& find_command(const std::vector<Command>& commands, const std::string& name) {
  for (const auto& c : commands)
    if (name == c.name) return c;
  throw UsageError{"unknown command '" + name + "'"};
}

bool is_help_option(const std::string& arg) { return arg == "-h" || arg == "--help"; }

}  // namespace

int main(int argc, char** argv) {
#ifdef __GLIBC__
  // Big blocks (weights, arenas) come from mmap and go back to the system when freed, so that
  // the weights of a model being prepared are returned as they are repacked (glibc's adaptive
  // threshold would otherwise move them onto the heap, where freed memory stays resident).
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
#endif
  const std::vector<Command> commands = {senet_cli::models_command(), senet_cli::run_command(),
                                         senet_cli::summary_command(), senet_cli::bench_command(),
                                         senet_cli::classify_command(), senet_cli::excite_command()};
  const std::vector<std::string> args(argv + 1, argv + argc);
  const Command* command = nullptr;  // once known, usage errors show its usage line
  try {
    if (args.empty()) {
      std::fprintf(stderr, "senet: missing command\n%s", general_usage(commands).c_str());
      return 2;
    }
    if (args[0] == "help" || is_help_option(args[0])) {
      const std::string text =
          args.size() > 1 ? command_usage(find_command(commands, args[1])) : general_usage(commands);
      std::fputs(text.c_str(), stdout);
      return 0;
    }
    command = &find_command(commands, args[0]);
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (std::any_of(rest.begin(), rest.end(), is_help_option)) {
      std::fputs(command_usage(*command).c_str(), stdout);
      return 0;
    }
    return command->run(senet_cli::Options(*command, rest));
  } catch (const UsageError& e) {
    if (command)
      std::fprintf(stderr, "senet: %s\n%s'senet %s --help' says more\n", e.message.c_str(),
                   usage_line(*command).c_str(), command->name);
    else
      std::fprintf(stderr, "senet: %s\nusage: senet <command> [options]; 'senet --help' lists the commands\n",
                   e.message.c_str());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "senet: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    std::fprintf(stderr, "senet: error: %s\n", msg.c_str());
    return 1;
  }
}
