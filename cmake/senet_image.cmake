# Optional image decoding: include/senet/io/image.hpp decodes PNG, JPEG, BMP, PPM and PGM through
# stb_image, whose implementation is compiled into Debian/Ubuntu's libstb (package libstb-dev,
# pkg-config module `stb`); senet's header never defines STB_IMAGE_IMPLEMENTATION.
#
# Include from the top-level CMakeLists.txt after the senet target exists. When stb is found:
#   senet::stb    IMPORTED target: libstb and the directory holding stb_image.h (headers use
#                 `#include <stb_image.h>`, as `pkg-config --cflags stb` gives -I.../include/stb)
#   senet_image   INTERFACE target, alias senet::image: senet::senet + senet::stb
#   SENET_HAVE_IMAGE ON; SENET_STB_INCLUDE_DIR, SENET_STB_LIBRARY, SENET_STB_LIBRARY_DIR
# and, with SENET_INSTALL, the export set senetImageTargets (senetImageTargets.cmake, which the
# package config includes after recreating senet::stb). Otherwise SENET_HAVE_IMAGE is OFF and a
# status message says image support is off. -DSENET_IMAGE=OFF disables it.
# (include/senet/io/preprocess.hpp needs none of this: it is part of senet::senet.)

option(SENET_IMAGE "Image decoding (senet::image) when stb_image's library is found" ON)
set(SENET_HAVE_IMAGE OFF)

if(SENET_IMAGE)
  # pkg-config only gives hints; the library and header are then located the same way with or
  # without it, so the installed package can find them again (senetConfig.cmake).
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(SENET_STB_PC QUIET stb)
  endif()
  find_path(SENET_STB_INCLUDE_DIR stb_image.h
    HINTS ${SENET_STB_PC_INCLUDE_DIRS}
    PATH_SUFFIXES stb
    DOC "Directory containing stb_image.h (included as <stb_image.h>)")
  find_library(SENET_STB_LIBRARY NAMES stb
    HINTS ${SENET_STB_PC_LIBRARY_DIRS}
    DOC "stb's compiled implementation (libstb)")

  if(SENET_STB_INCLUDE_DIR AND SENET_STB_LIBRARY)
    if(NOT TARGET senet::stb)
      add_library(senet::stb UNKNOWN IMPORTED)
      set_target_properties(senet::stb PROPERTIES
        IMPORTED_LOCATION "${SENET_STB_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${SENET_STB_INCLUDE_DIR}")
    endif()
    get_filename_component(SENET_STB_LIBRARY_DIR "${SENET_STB_LIBRARY}" DIRECTORY)

    add_library(senet_image INTERFACE)
    add_library(senet::image ALIAS senet_image)
    set_target_properties(senet_image PROPERTIES EXPORT_NAME image)
    target_link_libraries(senet_image INTERFACE senet::senet senet::stb)
    set(SENET_HAVE_IMAGE ON)
    message(STATUS "senet: image decoding on (stb: ${SENET_STB_LIBRARY}, ${SENET_STB_INCLUDE_DIR})")

    if(SENET_INSTALL)
      install(TARGETS senet_image EXPORT senetImageTargets)
      install(EXPORT senetImageTargets NAMESPACE senet:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/senet)
    endif()
  else()
    message(STATUS "senet: image decoding off (stb_image library not found: install libstb-dev); "
                   "senet/io/preprocess.hpp is still available")
  endif()
else()
  message(STATUS "senet: image decoding off (SENET_IMAGE=OFF)")
endif()
