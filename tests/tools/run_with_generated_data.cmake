# cmake -DINPUTS="file;..." -DRUN="exe;arg;..." -P run_with_generated_data.cmake
# Runs the command RUN on data that PyTorch generates at test time (full_parity.generate.*,
# classify.reference). When an input is missing, prints GoogleTest's "[  SKIPPED ]" marker with
# the reason and exits 0, so that the test is handled as the GoogleTest consumers of generated
# data are: skipped where PyTorch is optional, failed under SENET_REQUIRE_PYTORCH
# (tests/CMakeLists.txt, senet_generated_data_test). Otherwise RUN's status is the test's.
if(NOT RUN)
  message(FATAL_ERROR "usage: cmake -DINPUTS=... -DRUN=... -P run_with_generated_data.cmake")
endif()
foreach(input IN LISTS INPUTS)
  if(NOT EXISTS "${input}")
    message("[  SKIPPED ] no ${input}: the PyTorch reference was not generated (python3-torch missing?)")
    return()
  endif()
endforeach()
execute_process(COMMAND ${RUN} RESULT_VARIABLE status)
if(NOT status STREQUAL "0")
  message(FATAL_ERROR "`${RUN}` failed: ${status}")
endif()
