// `senet models`: the registered architectures.

#include <cstdio>
#include <senet/models/zoo.hpp>

#include "cli_options.hpp"

namespace senet_cli {
namespace {

int list_models(const Options&) {
  for (const auto& e : senet::model_registry()) std::printf("%-26s %s\n", e.name.c_str(), e.description.c_str());
  return 0;
}

}  // namespace

Command models_command() {
  return {"models",
          "",
          "list the architectures",
          "Each name with its description; --model of the other commands takes these names.\n",
          {},
          false,
          list_models};
}

}  // namespace senet_cli
