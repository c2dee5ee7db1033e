# Precompiled headers (AIMS_PCH, on by default): most of a translation unit's
# compile time here is parsing the same Abseil, Protobuf, gRPC and
# GoogleTest headers again. Two precompiled headers are built once - one for
# the libraries and binaries, one that adds GoogleTest for the targets that
# link it - and every target reuses one of them (REUSE_FROM), compiled with
# the same flags and definitions as the header was.
option(AIMS_PCH "Precompile the common third-party headers" ON)

set(AIMS_PCH_HEADERS
  <algorithm> <atomic> <chrono> <cmath> <cstdint> <functional> <map>
  <memory> <optional> <set> <string> <string_view> <thread> <utility> <vector>
  <absl/container/flat_hash_map.h> <absl/status/status.h>
  <absl/status/statusor.h> <absl/strings/str_cat.h> <absl/strings/string_view.h>
  <absl/synchronization/mutex.h> <absl/time/time.h>
  <google/protobuf/message.h> <grpcpp/grpcpp.h>
  <aims/v1/summary.pb.h> <aims/v1/nonconformity.pb.h> <aims/v1/query.pb.h>)

if(AIMS_PCH)
  add_library(aims_pch STATIC ${CMAKE_SOURCE_DIR}/cmake/pch_stub.cc)
  target_link_libraries(aims_pch PUBLIC aims_proto absl::strings absl::status
                        absl::statusor absl::synchronization absl::time
                        absl::flat_hash_map)
  target_precompile_headers(aims_pch PRIVATE ${AIMS_PCH_HEADERS})
  if(AIMS_BUILD_TESTS OR AIMS_BUILD_BENCHMARKS OR AIMS_BUILD_FUZZERS)
    find_package(GTest CONFIG REQUIRED)  # tests/'s import is not seen here
    add_library(aims_test_pch STATIC ${CMAKE_SOURCE_DIR}/cmake/pch_stub.cc)
    target_link_libraries(aims_test_pch PUBLIC aims_pch GTest::gtest GTest::gmock)
    target_precompile_headers(aims_test_pch PRIVATE ${AIMS_PCH_HEADERS}
                              <gtest/gtest.h> <gmock/gmock.h>)
  endif()
  # Left out: generated code (its own -w flags), libFuzzer targets
  # (-fsanitize=fuzzer) and the precompiled headers' own targets.
  aims_targets(all_targets ${CMAKE_SOURCE_DIR})
  foreach(target ${all_targets})
    get_target_property(type ${target} TYPE)
    if(NOT type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|OBJECT_LIBRARY)$" OR
       target MATCHES "^(aims_proto|aims_pch|aims_test_pch)$" OR
       target MATCHES "_fuzz$" OR target STREQUAL "aims_tsan_absl_sync")
      continue()
    endif()
    get_target_property(sources ${target} SOURCES)
    if(NOT sources)
      continue()
    endif()
    # GoogleTest's header only where GoogleTest is linked: its interface
    # adds -DGTEST_HAS_PTHREAD=1, without which the header is not valid.
    get_target_property(links ${target} LINK_LIBRARIES)
    if(TARGET aims_test_pch AND
       links MATCHES "(^|;)(GTest::|aims_testing|aims_verdict_simulator)")
      target_precompile_headers(${target} REUSE_FROM aims_test_pch)
    else()
      target_precompile_headers(${target} REUSE_FROM aims_pch)
    endif()
  endforeach()
endif()
