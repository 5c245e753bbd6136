# sparky_add_qtest(NAME <name> SOURCES <files...> [LIBS <targets...>] LABEL <unit|integration|e2e|gui>
#                  [FIXTURES <fixtures...>] [TIMEOUT <s>] [RESOURCE_LOCK <locks...>] [ENV <k=v...>])
#
# One QTest executable per class or feature. Every test gets the same deterministic
# environment (LANG, TZ, offscreen Qt platform, test-mode standard paths) and a label.
find_package(Qt6 ${SPARKY_MIN_QT} REQUIRED COMPONENTS Test)

set(SPARKY_TEST_BROKER_DIR ${CMAKE_BINARY_DIR}/test-broker CACHE INTERNAL "")

function(sparky_add_qtest)
    cmake_parse_arguments(T "" "NAME;LABEL;TIMEOUT" "SOURCES;LIBS;FIXTURES;RESOURCE_LOCK;ENV" ${ARGN})
    if(NOT T_LABEL)
        message(FATAL_ERROR "sparky_add_qtest(${T_NAME}): LABEL is required")
    endif()
    add_executable(${T_NAME} ${T_SOURCES})
    target_link_libraries(${T_NAME} PRIVATE sparky::policy Qt6::Test ${T_LIBS})
    add_test(NAME ${T_NAME} COMMAND ${T_NAME})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 120)
    endif()
    set_tests_properties(${T_NAME} PROPERTIES
        LABELS "${T_LABEL}"
        TIMEOUT ${T_TIMEOUT}
        ENVIRONMENT "LANG=C.UTF-8;LC_ALL=C.UTF-8;TZ=UTC;QT_QPA_PLATFORM=offscreen;QT_FORCE_STDERR_LOGGING=1;SPARKY_SOURCE_DIR=${CMAKE_SOURCE_DIR};SPARKY_BINARY_DIR=${CMAKE_BINARY_DIR};SPARKY_TEST_BROKER_DIR=${SPARKY_TEST_BROKER_DIR};${T_ENV}")
    if(T_FIXTURES)
        set_tests_properties(${T_NAME} PROPERTIES FIXTURES_REQUIRED "${T_FIXTURES}")
    endif()
    if(T_RESOURCE_LOCK)
        set_tests_properties(${T_NAME} PROPERTIES RESOURCE_LOCK "${T_RESOURCE_LOCK}")
    endif()
endfunction()
