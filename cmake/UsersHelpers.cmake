# One small helper per kind of target, in the manner of Abseil's
# absl_cc_library: every library is named users_<name>, includes from the
# project root, and lists its own dependencies.

# users_library(NAME <name> SRCS <files...> DEPS <targets...>)
function(users_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(users_${ARG_NAME} STATIC ${ARG_SRCS})
  target_include_directories(users_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(users_${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

# users_test(NAME <name> SRCS <files...> DEPS <targets...> [LABELS <labels...>]
#            [FILTER <gtest filter>])
# A GoogleTest binary registered with CTest, one CTest entry per test case
# (those FILTER selects, if given).
function(users_test)
  cmake_parse_arguments(ARG "" "NAME;FILTER" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  include(GoogleTest)
  set(filter_args)
  if(ARG_FILTER)
    set(filter_args TEST_FILTER "${ARG_FILTER}")
  endif()
  gtest_discover_tests(${ARG_NAME} PROPERTIES LABELS "unit;${ARG_LABELS}"
                       DISCOVERY_TIMEOUT 60 ${filter_args})
endfunction()
