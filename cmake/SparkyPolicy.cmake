# One INTERFACE target carries every compile policy; targets link it instead of setting
# global flags (the qBittorrent CommonConfig habit). Nothing here uses add_definitions.
add_library(sparky_policy INTERFACE)
add_library(sparky::policy ALIAS sparky_policy)

target_compile_features(sparky_policy INTERFACE cxx_std_20)
set(CMAKE_CXX_EXTENSIONS OFF)

target_compile_definitions(sparky_policy INTERFACE
    QT_NO_CAST_FROM_ASCII
    QT_NO_CAST_TO_ASCII
    QT_NO_CAST_FROM_BYTEARRAY
    QT_NO_KEYWORDS
    QT_USE_QSTRINGBUILDER
    QT_NO_CONTEXTLESS_CONNECT
    QT_NO_URL_CAST_FROM_STRING
    QT_NO_NARROWING_CONVERSIONS_IN_CONNECT
    QT_STRICT_ITERATORS
    QT_DISABLE_DEPRECATED_BEFORE=0x060400
    SPARKY_VERSION="${PROJECT_VERSION}")

target_compile_options(sparky_policy INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
    -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
    $<$<CXX_COMPILER_ID:GNU>:-Wno-psabi>)

# A unity build #includes each .cpp into one file, and GCC then warns about classes whose
# members use a type from that .cpp's anonymous namespace (-Wsubobject-linkage), as if it were
# a header's; in the unity file they still belong to that one translation unit.
if(CMAKE_UNITY_BUILD)
    target_compile_options(sparky_policy INTERFACE $<$<CXX_COMPILER_ID:GNU>:-Wno-subobject-linkage>)
endif()

if(SPARKY_WERROR)
    target_compile_options(sparky_policy INTERFACE -Werror)
endif()

# Fuzz builds (clang): coverage instrumentation and sanitizers for everything we compile.
if(SPARKY_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
        message(FATAL_ERROR "SPARKY_FUZZ needs clang (CXX=clang++)")
    endif()
    target_compile_options(sparky_policy INTERFACE
        -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    target_link_options(sparky_policy INTERFACE -fsanitize=address,undefined)
endif()
