# cmake -DMODE=install|subdirectory -DSENET_SOURCE_DIR=... -DSENET_BINARY_DIR=... -DWORK_DIR=... -P run_consumer.cmake
# Builds tests/packaging/consumer against senet and runs it.
set(consumer ${CMAKE_CURRENT_LIST_DIR}/consumer)
file(REMOVE_RECURSE ${WORK_DIR})
set(launcher "")
find_program(CCACHE ccache)
if(CCACHE)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE})
endif()
if(MODE STREQUAL "install")
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${SENET_BINARY_DIR} --prefix ${WORK_DIR}/prefix
                  COMMAND_ERROR_IS_FATAL ANY)
  set(args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
else()
  set(args -DUSE_SUBDIRECTORY=ON -DSENET_SOURCE_DIR=${SENET_SOURCE_DIR})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/build -DCMAKE_BUILD_TYPE=Release ${launcher} ${args}
                COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${WORK_DIR}/build/consumer COMMAND_ERROR_IS_FATAL ANY)
