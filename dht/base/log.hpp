// Loggers handed to cores. A core logs only through the logger it was given, so the
// simulator can tag lines with virtual time and a node name, and tests can silence it.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>

namespace ovl {

using logger_ptr = std::shared_ptr<spdlog::logger>;

// A logger that drops everything (tests, benchmarks, thousands of simulated nodes).
logger_ptr null_logger();
// A logger writing to stderr, shared by the process; `level` as spdlog names it.
logger_ptr stderr_logger(const std::string& name, const std::string& level = "info");

} // namespace ovl
