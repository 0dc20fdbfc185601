// The main() of every senet GoogleTest executable, in place of GTest::gtest_main: the same, except
// that a run whose --gtest_filter selects no test fails instead of passing with "0 tests ran".
// ctest runs some executables with a fixed filter (full_parity.seresnet50 runs
// test_full_parity --gtest_filter=FullParity.Seresnet50): a renamed or deleted test must turn such
// a ctest test red, not into a silent pass. GoogleTest 1.12 (Debian 12) has no
// --gtest_fail_if_no_test_selected. Proven by the ctest tests gtest_main.no_test_selected.*.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#ifdef GTEST_FLAG_GET
#define SENET_GTEST_FLAG(name) GTEST_FLAG_GET(name)
#else
#define SENET_GTEST_FLAG(name) ::testing::GTEST_FLAG(name)
#endif

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  // Listing (gtest_discover_tests) runs nothing by design.
  if (SENET_GTEST_FLAG(list_tests)) return status;
  if (::testing::UnitTest::GetInstance()->test_to_run_count() == 0) {
    std::fprintf(stderr,
                 "error: --gtest_filter=%s selects no test of %s: a selection that runs nothing fails "
                 "(tests/gtest_main.cpp)\n",
                 std::string(SENET_GTEST_FLAG(filter)).c_str(), argc > 0 ? argv[0] : "this executable");
    return 1;
  }
  return status;
}
