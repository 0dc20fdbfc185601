// The senet tool as a user runs it: every command, every exit status (0 success, 1 bad input,
// 2 usage), and `run` producing exactly what the library computes in-process.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "senet/io/npy.hpp"
#include "senet/layers/excitation.hpp"
#include "senet/io/weights.hpp"
#include "senet/models/random_init.hpp"
#include "senet/models/zoo.hpp"
#include "senet/ops/nchw16c.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;

namespace {

struct Result {
  int status;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("senet_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // A small registered model with seeded weights, saved as a user's checkpoint would be.
    auto model = senet::create_model<float>("seresnet18", 10);
    senet::randomize_parameters(*model, 3);
    senet::save_weights(*model, path("seresnet18.safetensors"));
    senet::Tensor<float> x({2, 3, 40, 40});
    for (senet::Index i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.1 * double(i)));
    senet::write_npy(path("x.npy"), x);
    senet::write_npy(path("y_expected.npy"), model->forward(x));
    senet::write_npy(path("x4.npy"), senet::Tensor<float>({1, 4, 40, 40}));
    const std::string w = slurp(path("seresnet18.safetensors"));
    std::ofstream(path("truncated.safetensors"), std::ios::binary) << w.substr(0, w.size() / 2);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }

  static Result run(const std::string& args) {
    const std::string cmd =
        std::string(SENET_CLI) + " " + args + " >" + path("out.txt") + " 2>" + path("err.txt") + " </dev/null";
    const int raw = std::system(cmd.c_str());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(path("out.txt")), slurp(path("err.txt"))};
  }
  /// A bad-input failure: status 1 and exactly one `senet: error:` line mentioning `what`.
  static void expect_error(const std::string& args, const std::string& what) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("senet: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << "expected '" << what << "' in: " << r.err;
  }
  static void expect_usage(const std::string& args) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("usage: senet"), std::string::npos) << r.err;
  }
  static inline fs::path dir_;
};

TEST_F(Cli, ModelsListsEveryArchitecture) {
  const Result r = run("models");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const auto& name : senet::model_names()) EXPECT_NE(r.out.find(name), std::string::npos) << name;
}

TEST_F(Cli, RunWritesTheLibrarysLogits) {
  const Result r = run("run --model seresnet18 --weights " + path("seresnet18.safetensors") + " --input " +
                       path("x.npy") + " --output " + path("y.npy") + " --threads 1");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto y = senet::read_npy<float>(path("y.npy"));
  const auto expected = senet::read_npy<float>(path("y_expected.npy"));
  ASSERT_EQ(y.shape(), (senet::Shape{2, 10}));  // classes taken from the checkpoint's fc.weight
  EXPECT_LE(senet::test::relative_error(y, expected), 1e-6);
}

// The same output bit for bit from run to run (separate processes) at a given thread count.
TEST_F(Cli, RunIsBitIdenticalAcrossProcesses) {
  for (const char* threads : {"1", "2"}) {
    std::string bytes[2];
    for (int i = 0; i < 2; ++i) {
      const std::string out = path("y_" + std::to_string(i) + ".npy");
      const Result r = run("run --model seresnet18 --weights " + path("seresnet18.safetensors") + " --input " +
                           path("x.npy") + " --output " + out + " --threads " + threads);
      ASSERT_EQ(r.status, 0) << r.err;
      bytes[i] = slurp(out);
    }
    EXPECT_FALSE(bytes[0].empty());
    EXPECT_EQ(bytes[0], bytes[1]) << threads << " threads";
  }
}

// An input whose activations exceed --max-activation-mb is a clean error before any allocation.
TEST_F(Cli, ActivationLimitRefusesLargeInputs) {
  const std::string args =
      "run --model seresnet18 --weights " + path("seresnet18.safetensors") + " --input " + path("x.npy") +
      " --output " + path("y_limit.npy") + " --max-activation-mb 1";
  expect_error(args + " --engine naive", "over the limit of 1 MB");
  // The engine's exact arena for 2 x 40 x 40 images fits in 1 MB: it runs.
  EXPECT_EQ(run(args).status, 0);
  expect_usage(args + " --max-activation-mb 0");
}

TEST_F(Cli, SummaryJsonHasExactTotals) {
  Result r = run("summary --model seresnet50 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("params").get<std::int64_t>(), 28'088'024);
  EXPECT_EQ(j.at("macs").get<std::int64_t>(), 4'091'699'200);
  r = run("summary --model legacy_seresnet50 --json");
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("macs").get<std::int64_t>(), 3'860'488'192);
  // The SE paper's mobile networks (README: beside Table 3's 4.7M / 572M and 2.4M / 142M)
  r = run("summary --model se_mobilenet --json");
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("params").get<std::int64_t>(), 4'718'044);
  EXPECT_EQ(j.at("macs").get<std::int64_t>(), 569'220'096);
  r = run("summary --model se_shufflenet --json");
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("params").get<std::int64_t>(), 2'483'533);
  EXPECT_EQ(j.at("macs").get<std::int64_t>(), 138'071'088);
  r = run("summary --model resnet50");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("25,557,032"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layer4.2.conv3"), std::string::npos);
}

TEST_F(Cli, BenchJsonReportsTimings) {
  const Result r = run("bench --model seresnet18 --size 64 --batch 2 --iters 3 --threads 1 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j.at("median_ms").get<double>(), 0.0);
  EXPECT_NEAR(j.at("ms_per_image").get<double>(), j.at("median_ms").get<double>() / 2, 1e-9);
  EXPECT_GT(j.at("gflops").get<double>(), 0.0);
  EXPECT_EQ(run("bench --model seresnet18 --size 64 --iters 1").status, 0);
}

// --winograd-max-channels N, --winograd-2x2-max-channels N, --winograd-stride2-max-channels N and
// --measure-winograd: `winograd_steps` lists the convolutions that run as Winograd,
// `winograd_2x2_steps` those of F(2x2), `winograd_stride2_steps` the stride-2 ones. Expected by
// hand from seresnet18's shape: the stride-1 3x3s with at most 128 channels in and out are
// layer1's four and layer2's three, with 256 layer3's three; the stride-2 3x3 of at most 128 is
// layer2.0.conv1 (64 -> 128). The stride-2 default depends on the CPU (0 on Intel's), so the
// cases that count it ask for 128.
TEST_F(Cli, BenchReportsTheWinogradConvolutions) {
  using Names = std::vector<std::string>;
  const Names up_to_128 = {"layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1", "layer1.1.conv2",
                           "layer2.0.conv2", "layer2.1.conv1", "layer2.1.conv2"};
  const Names at_256 = {"layer3.0.conv2", "layer3.1.conv1", "layer3.1.conv2"};
  Names eligible = up_to_128;  // stride 1
  eligible.insert(eligible.end(), at_256.begin(), at_256.end());
  Names all = eligible;  // in the network's order
  all.insert(all.begin() + 4, "layer2.0.conv1");
  const auto steps = [&](const std::string& options, const char* key = "winograd_steps") {
    const Result r = run("bench --model seresnet18 --size 64 --iters 1 --threads 1 --json " + options);
    EXPECT_EQ(r.status, 0) << r.err;
    return r.status == 0 ? nlohmann::json::parse(r.out).at(key).get<Names>() : Names{"failed"};
  };
  const std::string phases = "--winograd-stride2-max-channels 128 ";
  EXPECT_EQ(steps(phases), all);
  EXPECT_EQ(steps("", "winograd_2x2_steps"), at_256);
  EXPECT_EQ(steps(phases, "winograd_stride2_steps"), Names{"layer2.0.conv1"});
  EXPECT_EQ(steps("", "winograd_stride2_steps"), senet::detail::cpu_is_intel() ? Names{} : Names{"layer2.0.conv1"});
  EXPECT_EQ(steps("--winograd-max-channels 64 --winograd-2x2-max-channels 0 --winograd-stride2-max-channels 0"),
            Names(up_to_128.begin(), up_to_128.begin() + 4));
  EXPECT_EQ(steps(phases + "--winograd-max-channels 64"), all);
  EXPECT_EQ(steps("--winograd-max-channels 64", "winograd_2x2_steps"), Names(eligible.begin() + 4, eligible.end()));
  EXPECT_EQ(steps(phases + "--winograd-max-channels 0 --winograd-2x2-max-channels 0"), Names{"layer2.0.conv1"});
  EXPECT_TRUE(steps("--winograd-stride2-max-channels 64", "winograd_stride2_steps").empty());
  EXPECT_TRUE(steps("--precision bf16", "winograd_stride2_steps").empty());
  for (const std::string& step : steps("--measure-winograd"))  // the machine chooses which
    EXPECT_NE(std::find(all.begin(), all.end(), step), all.end()) << step;
  const Result text = run("bench --model seresnet18 --size 64 --iters 1 --threads 1 " + phases);
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("Winograd F(4x4, 3x3) on 7 convolutions"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Winograd F(2x2, 3x3) on 3 convolutions"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Winograd F(4x4, 2x2) by phases (stride 2) on 1 convolutions"), std::string::npos)
      << text.out;
  expect_usage("bench --model seresnet18 --winograd-max-channels lots");
  expect_usage("bench --model seresnet18 --winograd-2x2-max-channels -1");
  expect_usage("bench --model seresnet18 --winograd-stride2-max-channels -1");
}

// --profile: every lowered step's time in the engine's order (the stem first, the head last), and
// in text the time per kind of step; the reference path has no steps to time.
TEST_F(Cli, BenchProfileTimesEachStep) {
  Result r = run("bench --model seresnet18 --size 64 --iters 2 --threads 1 --profile --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto steps = nlohmann::json::parse(r.out).at("steps");
  ASSERT_GT(steps.size(), 10u);
  EXPECT_EQ(steps.front().at("step"), "conv conv1");
  EXPECT_EQ(steps.back().at("step"), "head");
  for (const auto& s : steps) EXPECT_GT(s.at("ms").get<double>(), 0.0) << s.dump();
  r = run("bench --model seresnet18 --size 64 --iters 1 --profile");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("slowest steps"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("conv "), std::string::npos) << r.out;
  expect_usage("bench --model seresnet18 --size 64 --iters 1 --profile --engine naive");
}

TEST_F(Cli, SeOptionsReshapeTheModel) {
  // The paper's counts for legacy_seresnet50 (paper-facts §2), through the tool.
  const auto params = [&](const std::string& flags) {
    const Result r = run("summary --model legacy_seresnet50 --json " + flags);
    EXPECT_EQ(r.status, 0) << flags << "\n" << r.err;
    return nlohmann::json::parse(r.out).at("params").get<std::int64_t>();
  };
  EXPECT_EQ(params(""), 28'088'024);
  EXPECT_EQ(params("--se-reduction 2"), 45'699'240);
  EXPECT_EQ(params("--se-bias off"), 28'071'976);
  EXPECT_EQ(params("--se-stages 3"), 26'349'992);
  // timm's rounding on request: every width C / 16 >= 8 here, so only layer1 (256 / 16 = 16) is
  // unchanged and the count stays the same; floor on a timm model changes seresnet18's layer1.
  EXPECT_EQ(params("--se-rounding divisible8"), 28'088'024);
  const Result r = run("summary --model seresnet18 --json --se-rounding floor");
  ASSERT_EQ(r.status, 0) << r.err;
  // seresnet18 (11,779,624) with layer1's two SE blocks at 64 / 16 = 4 instead of 8 hidden:
  // each block loses 2 * 64 * 4 weights and 4 biases.
  EXPECT_EQ(nlohmann::json::parse(r.out).at("params").get<std::int64_t>(), 11'779'624 - 2 * (2 * 64 * 4 + 4));
  // Every option is accepted by run and bench too.
  EXPECT_EQ(run("bench --model seresnet18 --size 32 --iters 1 --se-position pre --se-gate hard_sigmoid "
                "--se-squeeze avgmax --se-bias off --se-stages 2,3")
                .status,
            0);
}

TEST_F(Cli, SeOptionsThatMakeNoSenseAreUsageErrors) {
  for (const std::string flags : {"--se-position after3x3", "--se-reduction 0", "--se-stages 5", "--se-stages 1,x",
                                  "--se-gate swish", "--se-squeeze median", "--se-bias maybe"}) {
    const Result r = run("summary --model seresnet18 " + flags);
    EXPECT_EQ(r.status, 2) << flags << "\n" << r.err;
    EXPECT_NE(r.err.find("usage: senet"), std::string::npos) << r.err;
  }
  Result r = run("summary --model seresnet18 --se-position after3x3");
  EXPECT_NE(r.err.find("bottleneck"), std::string::npos) << r.err;
  r = run("summary --model seresnet50 --se-stages 5");
  EXPECT_NE(r.err.find("stages 1..4"), std::string::npos) << r.err;
  r = run("summary --model resnet50 --se-gate tanh");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("has no SE blocks"), std::string::npos) << r.err;
}

TEST_F(Cli, UsageErrorsExitTwo) {
  expect_usage("");
  expect_usage("frobnicate");
  expect_usage("models --json");
  expect_usage("run --model seresnet18");             // missing --weights etc.
  expect_usage("summary --model seresnet50 --size");  // option without value
  expect_usage("summary --model seresnet50 --size abc");
  expect_usage("summary --model seresnet50 --size 0");
  expect_usage("bench --model seresnet50 --colour blue");
}

const std::vector<std::string> kCommands = {"models", "run", "summary", "bench", "classify", "excite"};

TEST_F(Cli, EveryCommandPrintsItsOwnHelp) {
  for (const auto& command : kCommands) {
    for (const std::string help : {" --help", " -h"}) {
      const Result r = run(command + help);
      EXPECT_EQ(r.status, 0) << command << help << "\n" << r.err;
      EXPECT_EQ(r.out.rfind("usage: senet " + command, 0), 0u) << r.out;
      EXPECT_EQ(r.err, "");
    }
    EXPECT_EQ(run("help " + command).out, run(command + " --help").out) << command;
  }
  // Help comes first: before required options are missed and unknown ones refused.
  EXPECT_EQ(run("run --model seresnet18 --help").status, 0);
  EXPECT_EQ(run("bench --colour blue -h").status, 0);
}

TEST_F(Cli, HelpExplainsTheCommandsOptions) {
  Result r = run("bench --help");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("--batch"), std::string::npos) << r.out;
  r = run("classify --help");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("--preset"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--max-pixels"), std::string::npos) << r.out;
  // What every command that loads a model takes.
  for (const std::string command : {"run", "bench", "classify", "excite"}) {
    r = run(command + " --help");
    for (const char* option : {"--engine", "--max-header-bytes", "--allow-non-finite", "--max-activation-mb",
                               "--se-reduction", "--se-stages"})
      EXPECT_NE(r.out.find(option), std::string::npos) << command << ": " << option;
  }
  EXPECT_NE(run("summary --help").out.find("--se-position"), std::string::npos);
  // A usage error points at the command's own help.
  r = run("bench --model seresnet50 --colour blue");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("usage: senet bench --model NAME"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("senet bench --help"), std::string::npos) << r.err;
}

TEST_F(Cli, GeneralHelpListsEveryCommandWithItsSummary) {
  const std::string general = run("--help").out;
  for (const std::string args : {"-h", "help"}) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 0) << args;
    EXPECT_EQ(r.out, general) << args;
  }
  for (const auto& command : kCommands) {
    const std::string entry = "\n  " + command + " ";
    const std::size_t at = general.find(entry);
    ASSERT_NE(at, std::string::npos) << command << " missing from:\n" << general;
    std::string summary = general.substr(at + entry.size(), general.find('\n', at + 1) - at - entry.size());
    summary.erase(0, summary.find_first_not_of(' '));
    EXPECT_FALSE(summary.empty()) << command;
    EXPECT_NE(run(command + " --help").out.find("\n" + summary + "\n"), std::string::npos)
        << command << "'s help lacks its summary '" << summary << "'";
  }
  // No command at all: the same listing, on stderr, as a usage error.
  const Result r = run("");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "senet: missing command\n" + general);
}

TEST_F(Cli, UnknownCommandIsAUsageError) {
  for (const std::string args : {"frobnicate", "frobnicate --help", "help frobnicate"}) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_EQ(r.out, "") << args;
    EXPECT_EQ(r.err.rfind("senet: unknown command 'frobnicate'\nusage: senet", 0), 0u) << args << "\n" << r.err;
  }
}

TEST_F(Cli, BadInputsExitOneWithOneLine) {
  const std::string w = path("seresnet18.safetensors"), x = path("x.npy"), y = path("never.npy");
  expect_error("summary --model seresnet51", "unknown model 'seresnet51'");
  expect_error("run --model seresnet18 --weights " + path("missing.safetensors") + " --input " + x + " --output " + y,
               "missing.safetensors");
  expect_error("run --model seresnet18 --weights " + path("truncated.safetensors") + " --input " + x + " --output " + y,
               "truncated.safetensors");
  // Another architecture's checkpoint: missing and unexpected keys are named.
  expect_error("run --model legacy_seresnet18 --weights " + w + " --input " + x + " --output " + y,
               "layer0.conv1.weight");
  expect_error("run --model seresnet34 --weights " + w + " --input " + x + " --output " + y, "layer1.2");
  expect_error("run --model seresnet18 --weights " + w + " --input " + path("x4.npy") + " --output " + y,
               "expected 3 input channels, got 4");
  expect_error("run --model seresnet18 --weights " + w + " --input " + w + " --output " + y, "seresnet18.safetensors");
  expect_error("run --model seresnet18 --weights " + w + " --input " + path("nothing.npy") + " --output " + y,
               "nothing.npy");
  EXPECT_FALSE(fs::exists(y));
}

// A state_dict as torch.save writes it (.pth) gives the same logits as the safetensors of the same
// weights, bit for bit: the shipped digits model in both forms (tests/fixtures/make_pth_fixtures.py).
TEST_F(Cli, RunReadsPyTorchCheckpoints) {
  const std::string x = senet::test::fixture("digits_heldout.npy");
  const std::string pth = senet::test::fixture("pth/digits.pth");
  std::string logits[2];
  int i = 0;
  for (const std::string& weights : {std::string(SENET_DIGITS_WEIGHTS), pth}) {
    const std::string out = path("digits_" + std::to_string(i) + ".npy");
    const Result r = run("run --model se_resnet_digits --weights " + weights + " --input " + x + " --output " + out +
                         " --threads 1");
    ASSERT_EQ(r.status, 0) << weights << "\n" << r.err;
    logits[i++] = slurp(out);
  }
  ASSERT_FALSE(logits[0].empty());
  EXPECT_EQ(logits[0], logits[1]);
  EXPECT_EQ(senet::read_npy<float>(path("digits_1.npy")).shape(), (senet::Shape{360, 10}));
  // The naive engine and the other commands read it too.
  EXPECT_EQ(run("run --model se_resnet_digits --engine naive --weights " + pth + " --input " + x + " --output " +
                path("digits_naive.npy"))
                .status,
            0);
  EXPECT_EQ(
      run("excite --model se_resnet_digits --weights " + pth + " --input " + x + " --csv " + path("e.csv")).status, 0);

  // Refused files: one clean line naming the file and what to do.
  const std::string rest = " --input " + x + " --output " + path("never_pth.npy");
  expect_error("run --model se_resnet_digits --weights " + senet::test::fixture("pth/legacy.pth") + rest,
               "legacy.pth: a PyTorch checkpoint in the legacy format");
  expect_error("run --model se_resnet_digits --weights " + senet::test::fixture("pth/module.pth") + rest,
               "global 'torch.nn.modules.container.Sequential' is not allowed");
  const std::string whole = slurp(pth);
  std::ofstream(path("truncated.pth"), std::ios::binary) << whole.substr(0, whole.size() / 2);
  expect_error("run --model se_resnet_digits --weights " + path("truncated.pth") + rest,
               "truncated.pth: no end of central directory record");
  expect_error("run --model seresnet18 --weights " + pth + rest, "missing key: layer4.0.conv1.weight");
  // --max-header-bytes bounds data.pkl as it does a safetensors header.
  expect_error("run --model se_resnet_digits --max-header-bytes 100 --weights " + pth + rest,
               "over the limit of 100 bytes (PthOptions::max_pickle_bytes");
  EXPECT_FALSE(fs::exists(path("never_pth.npy")));
}

}  // namespace

#ifdef SENET_CLI_IMAGES
namespace {

/// A directory of images in nested folders with a non-image file, for `classify`.
std::string image_tree(const std::string& root) {
  fs::create_directories(root + "/b/c");
  fs::copy_file(senet::test::fixture("images/rgb.png"), root + "/a.png", fs::copy_options::overwrite_existing);
  fs::copy_file(senet::test::fixture("images/grey.pgm"), root + "/b/c/grey.pgm", fs::copy_options::overwrite_existing);
  std::ofstream(root + "/b/notes.txt") << "not an image";
  return root;
}

TEST_F(Cli, ClassifyWalksDirectoriesAndPrintsJson) {
  const std::string dir = image_tree(path("tree"));
  const Result r = run("classify --model seresnet18 --weights " + path("seresnet18.safetensors") +
                       " --size 32 --top 3 --batch 1 --json " + dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("images/s"), std::string::npos) << "no progress bar when stderr is not a terminal";
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);  // notes.txt skipped; sorted paths
  EXPECT_EQ(j[0].at("image"), dir + "/a.png");
  EXPECT_EQ(j[1].at("image"), dir + "/b/c/grey.pgm");
  for (const auto& image : j) {
    ASSERT_EQ(image.at("top").size(), 3u);
    double previous = 1.0;
    for (const auto& t : image.at("top")) {
      const double p = t.at("prob");
      EXPECT_LE(p, previous);
      EXPECT_GT(p, 0.0);
      previous = p;
      EXPECT_EQ(t.at("label"), "class " + std::to_string(t.at("index").get<int>()));  // 10 classes: no names
    }
  }
}

TEST_F(Cli, ClassifyWithoutWeightsWarnsOnce) {
  const std::string png = senet::test::fixture("images/rgb.png");
  const Result r = run("classify --model seresnet18 --size 32 --top 2 --batch 1 " + png + " " + png);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("random weights"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("meaningless"), std::string::npos) << r.err;
  // Text: the path, then one line per class with probability, index and ImageNet label.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 6) << r.out;
}

TEST_F(Cli, ClassifyErrors) {
  const std::string w = " --weights " + path("seresnet18.safetensors") + " --size 32 ";
  expect_error("classify --model seresnet18" + w + senet::test::fixture("images/damaged.png"), "damaged.png");
  expect_error("classify --model seresnet18" + w + senet::test::fixture("images/not_an_image.txt"), "not_an_image.txt");
  expect_error("classify --model seresnet18" + w + path("missing.png"), "missing.png: no such file");
  fs::create_directories(path("empty"));
  expect_error("classify --model seresnet18" + w + path("empty"), "no images");
  const std::string png = " " + senet::test::fixture("images/rgb.png");
  expect_usage("classify --model seresnet18" + png + " --preset bogus");
  expect_usage("classify --model seresnet18" + png + " --interpolation nearest");
  expect_usage("classify --model seresnet18" + png + " --crop-pct 0");
  expect_usage("classify --model seresnet18" + png + " --top 0");
  expect_usage("classify --model seresnet18");
}

}  // namespace
#endif

namespace {

/// The rows of a `senet excite` CSV after its header, split at commas.
std::vector<std::vector<std::string>> csv_rows(const std::string& text, std::string* header) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  std::getline(in, *header);
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream f(line);
    for (std::string field; std::getline(f, field, ',');) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

}  // namespace

// One row per block, sample and channel: seresnet18 has 8 SE blocks (layer1.0 .. layer4.1) of
// 64, 64, 128, 128, 256, 256, 512 and 512 channels (torchvision's resnet18 widths), so 2 samples
// make 2 x 1920 rows; the gates are the library's own (record_excitations in-process).
TEST_F(Cli, ExciteWritesOneRowPerBlockSampleAndChannel) {
  const Result r = run("excite --model seresnet18 --weights " + path("seresnet18.safetensors") + " --input " +
                       path("x.npy") + " --csv " + path("e.csv") + " --svg " + path("e.svg"));
  ASSERT_EQ(r.status, 0) << r.err;
  std::string header;
  const auto rows = csv_rows(slurp(path("e.csv")), &header);
  EXPECT_EQ(header, "block,sample,channel,value");
  ASSERT_EQ(rows.size(), 2u * 1920u);
  EXPECT_EQ(rows.front(), (std::vector<std::string>{"layer1.0", "0", "0", rows.front()[3]}));
  EXPECT_EQ(rows.back()[0], "layer4.1");
  EXPECT_EQ(rows.back()[1], "1");
  EXPECT_EQ(rows.back()[2], "511");
  auto model = senet::create_model<float>("seresnet18", 10);
  senet::load_weights(*model, path("seresnet18.safetensors"));
  const auto expected = senet::record_excitations(*model, senet::read_npy<float>(path("x.npy")));
  ASSERT_EQ(expected.size(), 8u);
  std::size_t i = 0;
  double worst = 0;
  for (const auto& block : expected)
    for (senet::Index j = 0; j < block.gates.size(); ++j, ++i) {
      ASSERT_EQ(rows[i][0], senet::excitation_block_name(block.path));
      worst = std::max(worst, std::abs(std::stod(rows[i][3]) - double(block.gates[j])));
    }
  EXPECT_LE(worst, 1e-6);  // the CLI runs the prepared engine
  const std::string svg = slurp(path("e.svg"));
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("layer4.1 (512 channels)"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST_F(Cli, ExciteSelectsBlocksAndGroupsByLabel) {
  senet::Tensor<float> labels({2});
  labels[0] = 3;
  labels[1] = 7;
  senet::write_npy(path("labels.npy"), labels);
  const Result r = run("excite --model seresnet18 --weights " + path("seresnet18.safetensors") + " --input " +
                       path("x.npy") + " --csv " + path("sel.csv") + " --svg " + path("sel.svg") + " --labels " +
                       path("labels.npy") + " --blocks 'layer2.*,layer4.1'");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string header;
  const auto rows = csv_rows(slurp(path("sel.csv")), &header);
  EXPECT_EQ(rows.size(), 2u * (128 + 128 + 512));
  for (const auto& row : rows) EXPECT_TRUE(row[0] == "layer2.0" || row[0] == "layer2.1" || row[0] == "layer4.1") << row[0];
  const std::string svg = slurp(path("sel.svg"));
  EXPECT_NE(svg.find(">class 3<"), std::string::npos);  // the legend names the classes present
  EXPECT_NE(svg.find(">class 7<"), std::string::npos);
  EXPECT_EQ(svg.find(">class 0<"), std::string::npos);
}

TEST_F(Cli, ExciteErrors) {
  const std::string w = " --weights " + path("seresnet18.safetensors");
  // A model without SE blocks has nothing to record.
  auto plain = senet::create_model<float>("resnet18", 10);
  senet::randomize_parameters(*plain, 1);
  senet::save_weights(*plain, path("resnet18.safetensors"));
  expect_error("excite --model resnet18 --weights " + path("resnet18.safetensors") + " --input " + path("x.npy") +
                   " --csv " + path("r.csv"),
               "resnet18 has no SE blocks");
  expect_usage("excite --model seresnet18" + w + " --input " + path("x.npy") + " --csv " + path("r.csv") +
               " --blocks layer9.0");
  expect_usage("excite --model seresnet18" + w + " --csv " + path("r.csv"));  // no inputs
  expect_usage("excite --model seresnet18" + w + " --input " + path("x.npy"));  // no --csv
  senet::write_npy(path("labels3.npy"), senet::Tensor<float>({3}));
  expect_error("excite --model seresnet18" + w + " --input " + path("x.npy") + " --csv " + path("r.csv") +
                   " --labels " + path("labels3.npy"),
               "3 labels for 2 samples");
  senet::Tensor<float> big({2});
  big[0] = 10;
  senet::write_npy(path("labels10.npy"), big);
  expect_error("excite --model seresnet18" + w + " --input " + path("x.npy") + " --csv " + path("r.csv") +
                   " --labels " + path("labels10.npy"),
               "is not a class index in [0, 10)");
}

// Recording in the benchmark: the same JSON, flagged.
TEST_F(Cli, BenchCanRecordExcitations) {
  const Result r = run("bench --model seresnet18 --size 32 --iters 2 --record-excitations --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out).at("record_excitations").get<bool>());
}
