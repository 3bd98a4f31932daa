// overlay-node's settings without the daemon: file over defaults, flags over the file,
// --print-config output that loads back to the same settings, and the storage budget.
#include "cli/node_settings.hpp"

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <unistd.h>

using namespace ovl;
using namespace ovl::cli;

namespace {

std::filesystem::path write_file(const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() / ("node_settings_test_" + std::to_string(::getpid()) + ".toml");
    std::ofstream(path) << text;
    return path;
}

} // namespace

TEST_CASE("settings: the file overrides defaults and flags override the file", "[node][settings]") {
    const auto file = write_file("[introducer]\nmax_registrations = 7\nintroductions_per_second = 3\n"
                                 "[relay]\nenabled = false\n");
    node_settings s;
    REQUIRE_FALSE(load_config_file(file, s));
    CHECK(s.max_registrations == 7);
    CHECK(s.introductions_per_second == 3.0);
    CHECK_FALSE(s.relay);
    CHECK(s.relay_max_sessions == node_settings{}.relay_max_sessions);

    CLI::App app;
    node_settings cli_values;
    add_setting_options(app, cli_values);
    std::vector<std::string> args{"--relay", "--max-registrations", "9"};
    std::reverse(args.begin(), args.end());
    app.parse(args);
    apply_command_line(app, cli_values, s);
    CHECK(s.max_registrations == 9);
    CHECK(s.relay);
    CHECK(s.introductions_per_second == 3.0);
    std::filesystem::remove(file);
}

TEST_CASE("settings: the printed configuration loads back to the same settings", "[node][settings]") {
    node_settings s;
    s.bootstrap = {"192.0.2.1:6881", "[2001:db8::1]:6881"};
    s.state_dir = "/var/lib/overlay \"node\"";
    s.max_registrations = 1234;
    s.introductions_per_requester = 0.5;
    s.relay = false;
    s.metrics_listen = "127.0.0.1:9464";
    const auto file = write_file(to_toml(s));
    node_settings loaded;
    REQUIRE_FALSE(load_config_file(file, loaded));
    CHECK(to_toml(loaded) == to_toml(s));
    CHECK(loaded.bootstrap == s.bootstrap);
    CHECK(loaded.state_dir == s.state_dir);
    CHECK(restart_keys_changed(s, loaded).empty());
    std::filesystem::remove(file);
}

TEST_CASE("settings: only caps and the log level apply without a restart", "[node][settings]") {
    node_settings a;
    node_settings b = a;
    b.max_registrations = 1;
    b.relay_bytes_per_month = 5;
    b.log_level = "debug";
    CHECK(restart_keys_changed(a, b).empty());
    b.listen = "127.0.0.1:1";
    b.dht_storage_bytes = 1 << 20;
    CHECK(restart_keys_changed(a, b) == std::vector<std::string>{"node.listen", "dht.storage_bytes"});
}

TEST_CASE("settings: the DHT storage budget becomes peer and item caps", "[node][settings]") {
    dht::node_config dht;
    apply_storage_budget(16 << 20, dht);
    CHECK(dht.storage.max_peers * bytes_per_stored_peer == (16u << 20) / 4 * 3);
    CHECK(dht.storage.max_torrents == dht.storage.max_peers / 10);
    CHECK(dht.items.max_bytes == (16u << 20) / 4);
    CHECK(dht.items.max_items == 4096);
}
