// overlay-node's settings: one table of keys drives the TOML config file, the
// command-line twins, --print-config and validation, so the three cannot drift apart.
// Precedence: built-in default < config file < command line.
#pragma once

#include "overlay/overlay_config.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ovl::cli {

// Defaults are sized for a small VPS (1 vCPU, 1 GiB RAM, a few TB of traffic a month).
struct node_settings {
    // [node]
    std::string listen = "0.0.0.0:6881";
    std::string listen6 = "auto";
    std::vector<std::string> bootstrap;
    std::string state_dir;
    std::string key;
    std::string log_level = "info";
    bool allow_shared_ip = false;
    // [introducer]
    bool introducer = true;
    std::int64_t max_registrations = 5000;
    double introductions_per_second = 500;
    double introductions_per_requester = 2;
    double introductions_per_subnet = 10;
    double introductions_per_target = 5;
    double introduction_burst = 10;
    // [relay]
    bool relay = true;
    std::int64_t relay_max_sessions = 64;
    std::int64_t relay_bytes_per_second = 1'000'000;
    std::int64_t relay_bytes_per_month = 100ll << 30;
    // [dht]
    std::int64_t dht_storage_bytes = 16ll << 20;
    // [metrics]
    std::string metrics_listen;
};

// What a stored peer costs, measured with peer_store::memory_bytes (docs/PERFORMANCE.md:
// 63.7 bytes at 10 peers per info-hash, the index included); items are charged by size.
inline constexpr std::size_t bytes_per_stored_peer = 64;

// Adds every key's command-line twin to `app`, writing into `cli_values`.
void add_setting_options(CLI::App& app, node_settings& cli_values);
// Copies the keys given on the command line (after app.parse) from `cli_values` into `out`.
void apply_command_line(const CLI::App& app, const node_settings& cli_values, node_settings& out);

// Reads a config file over `out`. On error returns one line naming file, line and key.
std::optional<std::string> load_config_file(const std::filesystem::path& file, node_settings& out);
// Checks values that came from the command line (the file's were checked while loading).
std::optional<std::string> validate(const node_settings& s);

// The effective configuration as a TOML file, every key with its meaning and default.
std::string to_toml(const node_settings& s);
// Keys whose change needs a restart (the rest apply on SIGHUP).
std::vector<std::string> restart_keys_changed(const node_settings& before, const node_settings& after);

// The core's configuration (caps, storage) from the settings; endpoints parsed by the caller.
overlay::introducer_limits introducer_limits_of(const node_settings& s);
overlay::relay_limits relay_limits_of(const node_settings& s);
void apply_storage_budget(std::int64_t bytes, dht::node_config& dht);

} // namespace ovl::cli
