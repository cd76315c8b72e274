# The install test: install trident from a build tree into a scratch prefix, then configure, build and run the
# out-of-tree project tests/consumer against that prefix with find_package(trident), as a user would.
#
#   cmake -DBUILD_DIR=<trident build> -DCONSUMER_SOURCE_DIR=<tests/consumer> -DWORK_DIR=<scratch>
#         [-DGENERATOR=...] [-DCXX_COMPILER=...] [-DBUILD_TYPE=...] [-DPREFIX_PATH=a|b] [-DSANITIZE=address,...]
#         -P run_consumer_test.cmake
#
# PREFIX_PATH is the build's own CMAKE_PREFIX_PATH ('|'-separated), so the consumer finds trident's dependencies
# where the build found them. SANITIZE: a trident built with sanitizers needs them in the executable too.
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()

# Runs a command; on failure prints its output and stops with `what` in the message.
function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT status EQUAL 0)
    message("${output}")
    message(FATAL_ERROR "consumer test: ${what} failed (${status})")
  endif()
  message(STATUS "consumer test: ${what}: ok")
  set(step_output "${output}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})

run_step("cmake --install into ${prefix}" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

set(prefix_path ${prefix})
if(PREFIX_PATH)
  string(REPLACE "|" ";" extra_prefixes "${PREFIX_PATH}")
  list(APPEND prefix_path ${extra_prefixes})
endif()
set(configure_args -S ${CONSUMER_SOURCE_DIR} -B ${consumer_build} "-DCMAKE_PREFIX_PATH=${prefix_path}")
if(GENERATOR)
  list(APPEND configure_args -G ${GENERATOR})
endif()
if(CXX_COMPILER)
  list(APPEND configure_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(BUILD_TYPE)
  list(APPEND configure_args -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
if(SANITIZE)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE} -fno-omit-frame-pointer"
       -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE})
endif()
run_step("configure the consumer (find_package(trident))" ${CMAKE_COMMAND} ${configure_args})
run_step("build the consumer" ${CMAKE_COMMAND} --build ${consumer_build})
run_step("run the consumer" ${consumer_build}/consumer)
message("${step_output}")
