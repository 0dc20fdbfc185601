/* stb_image compiled into the libFuzzer build itself (scripts/fuzz.sh), with the sanitizers and
   coverage instrumentation, so that the fuzzer sees inside the decoders and a read past a
   buffer in stb is reported. The same header Debian's libstb is built from; the ordinary build
   links libstb instead (senet::image). */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
