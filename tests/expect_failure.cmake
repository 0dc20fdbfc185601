# cmake -DRUN="exe;arg;..." -DEXPECT_OUTPUT=REGEX -P expect_failure.cmake
# Passes when the command RUN exits with a non-zero status and its output (stdout and stderr) matches
# REGEX; fails when it succeeds, crashes without the expected message, or says something else.
# A check that a failure mode is detected (gtest_main.no_test_selected.*) must itself be unable to
# pass by accident: a crash or a missing executable is not the failure it looks for.
if(NOT RUN OR NOT DEFINED EXPECT_OUTPUT)
  message(FATAL_ERROR "usage: cmake -DRUN=... -DEXPECT_OUTPUT=... -P expect_failure.cmake")
endif()
execute_process(COMMAND ${RUN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(status STREQUAL "0")
  message(FATAL_ERROR "expected a failure, but `${RUN}` exited with status 0")
elseif(NOT status MATCHES "^[0-9]+$")
  message(FATAL_ERROR "`${RUN}` did not exit normally: ${status}")
elseif(NOT "${out}${err}" MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "`${RUN}` failed (status ${status}) without saying \"${EXPECT_OUTPUT}\"")
endif()
message("failed as expected (status ${status})")
