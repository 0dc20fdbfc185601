# cmake -DIN=FILE.gz -DOUT=FILE -P gunzip.cmake: decompresses one gzip file with gzip(1), writing
# OUT only once the whole file has been decompressed. Fails, naming the Debian package, when IN is
# missing (Fashion-MNIST comes from dataset-fashion-mnist, which scripts/setup.sh installs).
if(NOT EXISTS "${IN}")
  message(FATAL_ERROR "${IN}: no such file: install Debian's dataset-fashion-mnist "
                      "(apt-get install dataset-fashion-mnist; scripts/setup.sh does) or set SENET_FASHION_MNIST_DIR")
endif()
find_program(GZIP gzip REQUIRED)
get_filename_component(dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
execute_process(COMMAND ${GZIP} -dc "${IN}" OUTPUT_FILE "${OUT}.part" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  file(REMOVE "${OUT}.part")
  message(FATAL_ERROR "${IN}: gzip -dc failed (${rc}): ${err}")
endif()
file(RENAME "${OUT}.part" "${OUT}")
message(STATUS "decompressed ${IN} -> ${OUT}")
