# Included into the swarm image's build (CMAKE_PROJECT_INCLUDE, with CMAKE_UNITY_BUILD=ON):
# a unity build parses Asio, Beast, libtorrent and spdlog once per batch of files instead
# of once per file, about four times less compile time. Files whose file-local names clash
# with a neighbour's are compiled on their own. The Dockerfile falls back to a plain build
# if a new clash breaks the unity build, so this only ever costs time, never the test.
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL
  set_source_files_properties "${CMAKE_SOURCE_DIR}/cli/peer_commands.cpp" DIRECTORY "${CMAKE_SOURCE_DIR}/cli"
  PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
