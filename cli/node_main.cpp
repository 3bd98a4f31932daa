// overlay-node: runs one DHT node on a UDP socket until SIGINT/SIGTERM, keeping its
// identity and routing table in a state directory across restarts.
#include "cli/endpoint_option.hpp"
#include "cli/node_state.hpp"
#include "dht/io/udp_driver.hpp"
#include "dht/node.hpp"

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>

#include <csignal>
#include <filesystem>
#include <system_error>

namespace {

using namespace std::chrono_literals;
constexpr auto report_interval = 60s;
constexpr auto save_interval = 5min;

std::uint64_t queries_served(const ovl::dht::node_stats& s) {
    return s.queries_ping + s.queries_find_node + s.queries_get_peers + s.queries_announce + s.queries_extension;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"overlay-node: a mainline DHT (BEP 5) node that other overlay peers and BitTorrent clients can "
                 "use. Logs to stderr; stops cleanly on SIGINT or SIGTERM."};
    app.option_defaults()->always_capture_default();
    app.set_version_flag("--version", std::string("overlay-node ") + OVERLAY_VERSION);

    std::string listen;
    std::vector<std::string> bootstrap;
    std::string state_dir;
    std::string log_level = "info";
    bool allow_shared_ip = false;
    app.add_option("--listen", listen, "UDP address to listen on, IP:PORT (port 0 picks a free port)")
        ->required()
        ->check(ovl::cli::endpoint_validator(ovl::cli::port_rule::zero_allowed));
    app.add_option("--bootstrap", bootstrap, "node to join the DHT through, IP:PORT; repeatable (default: none)")
        ->check(ovl::cli::endpoint_validator(ovl::cli::port_rule::required_nonzero));
    app.add_option("--state-dir", state_dir,
                   "directory keeping the node id and known nodes across restarts (default: none, nothing is saved)");
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    app.add_flag("--allow-shared-ip", allow_shared_ip,
                 "allow several routing-table entries per IP; for labs and loopback tests");
    CLI11_PARSE(app, argc, argv);

    auto log = ovl::stderr_logger("overlay-node", log_level);
    std::string error;
    const auto listen_ep = *ovl::cli::parse_endpoint(listen, ovl::cli::port_rule::zero_allowed, error);

    ovl::dht::node_config config;
    config.table.one_node_per_ip = !allow_shared_ip;
    for (const auto& text : bootstrap)
        config.bootstrap.push_back(*ovl::cli::parse_endpoint(text, ovl::cli::port_rule::required_nonzero, error));

    std::optional<std::filesystem::path> state_path;
    if (!state_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(state_dir, ec);
        if (ec) {
            log->error("cannot create state directory {}: {}", state_dir, ec.message());
            return 1;
        }
        state_path = ovl::cli::state_file(state_dir);
        if (auto saved = ovl::cli::load_node_state(*state_path, *log)) {
            config.id = saved->id;
            config.saved_nodes = std::move(saved->nodes);
            log->info("reusing node id {} and {} saved nodes from {}", config.id.to_hex(), config.saved_nodes.size(),
                      state_path->string());
        }
    }
    const bool can_join = !config.bootstrap.empty() || !config.saved_nodes.empty();

    try {
        ovl::dht::node node(std::move(config), ovl::random_source::from_os(), log, ovl::io::steady_now());
        std::optional<ovl::io::udp_driver> driver_storage;
        try {
            driver_storage.emplace(node, listen_ep, log);
        } catch (const std::system_error& e) {
            log->error("cannot listen on {}: {}", listen_ep.to_string(), e.code().message());
            return 1;
        }
        auto& driver = *driver_storage;
        log->info("overlay-node {} started: node id {}, listening on udp {}", OVERLAY_VERSION, node.id().to_hex(),
                  driver.local_endpoint().to_string());

        auto save = [&] {
            if (state_path) ovl::cli::save_node_state(*state_path, {node.id(), node.export_nodes()}, *log);
        };
        if (can_join)
            driver.post([&](ovl::timestamp now) { node.bootstrap(now); });
        else
            log->info("no bootstrap or saved nodes: waiting for other nodes to contact us");

        std::function<void(ovl::timestamp)> report = [&](ovl::timestamp) {
            log->info("routing table: {} nodes; storing {} peers for {} info-hashes; {} queries served",
                      node.table().size(), node.storage().peer_count(), node.storage().torrent_count(),
                      queries_served(node.stats()));
            driver.schedule(report_interval, report);
        };
        driver.schedule(report_interval, report);
        std::function<void(ovl::timestamp)> periodic_save = [&](ovl::timestamp) {
            save();
            driver.schedule(save_interval, periodic_save);
        };
        if (state_path) driver.schedule(save_interval, periodic_save);

        driver.on_termination_signal([&](int signal) {
            log->info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
            save();
            driver.stop();
        });
        driver.run();
        log->info("stopped after serving {} queries", queries_served(node.stats()));
    } catch (const std::exception& e) {
        log->critical("fatal error: {}", e.what());
        return 1;
    }
    return 0;
}
