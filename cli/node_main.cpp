// overlay-node: runs one overlay peer (DHT node, NAT discovery, introducer when publicly
// reachable, registrations when not) on a UDP socket until SIGINT/SIGTERM, keeping its
// key and routing table in a state directory across restarts.
#include "cli/endpoint_option.hpp"
#include "cli/node_state.hpp"
#include "cli/overlay_session.hpp"
#include "cli/tcp_acceptor.hpp"

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
constexpr auto role_check_interval = 1s;

std::uint64_t queries_served(const ovl::dht::node_stats& s) {
    return s.queries_ping + s.queries_find_node + s.queries_get_peers + s.queries_announce + s.queries_extension;
}

// The role line operators wait for; empty while the verdict is unknown.
std::string role_line(const ovl::overlay::overlay_node& node) {
    const auto p = node.profile();
    if (node.serving_as_introducer()) return "reachable: serving as introducer";
    if (p.verdict == ovl::overlay::nat_verdict::unknown) return {};
    const auto held = node.registrations().introducers().size();
    if (p.verdict == ovl::overlay::nat_verdict::udp_blocked)
        return "udp-blocked: no DHT node answered over UDP (UDP blocked here, or the bootstrap nodes are down)";
    if (p.reach != ovl::overlay::reachability::unreachable)
        return fmt::format("{} ({}), not yet serving as introducer", to_string(p.verdict), to_string(p.reach));
    return fmt::format("behind NAT ({}): registered with {} introducer{}", to_string(p.verdict), held,
                       held == 1 ? "" : "s");
}

} // namespace

int main(int argc, char** argv) {
    const ovl::overlay::overlay_config defaults;
    CLI::App app{"overlay-node: an overlay peer on a mainline DHT (BEP 5) node. Works out whether it is publicly "
                 "reachable (others dial back); if so it serves as an introducer for peers behind NATs, otherwise it "
                 "registers with introducers itself. Also accepts (and at once closes) TCP connections on its port, "
                 "which lets clients tell UDP-blocked networks from dead bootstrap nodes. Logs to stderr; stops "
                 "cleanly on SIGINT or SIGTERM."};
    app.option_defaults()->always_capture_default();
    app.set_version_flag("--version", std::string("overlay-node ") + OVERLAY_VERSION);

    std::string listen;
    std::vector<std::string> bootstrap;
    std::string state_dir;
    std::string key_file;
    std::string log_level = "info";
    bool allow_shared_ip = false;
    bool no_introducer = false;
    std::size_t max_registrations = defaults.introducer.max_registrations;
    double introductions_per_second = defaults.introducer.introductions_per_second;
    bool no_relay = false;
    std::size_t relay_sessions = defaults.relay.max_sessions;
    double relay_rate = defaults.relay.bytes_per_second;
    app.add_option("--listen", listen, "UDP (and TCP) address to listen on, IP:PORT (port 0 picks a free port)")
        ->required()
        ->check(ovl::cli::endpoint_validator(ovl::cli::port_rule::zero_allowed));
    app.add_option("--bootstrap", bootstrap, "node to join the DHT through, IP:PORT; repeatable (default: none)")
        ->check(ovl::cli::endpoint_validator(ovl::cli::port_rule::required_nonzero));
    app.add_option("--state-dir", state_dir,
                   "directory keeping the node key (node.key) and known nodes across restarts (default: none, "
                   "nothing is saved)");
    app.add_option("--key", key_file,
                   "key file (64 hex digits of ed25519 seed), created if missing; the peer id and DHT node id derive "
                   "from it (default: DIR/node.key with --state-dir, else a new key each run)");
    app.add_flag("--no-introducer", no_introducer, "never serve as an introducer (nor relay), even when publicly reachable");
    app.add_option("--max-registrations", max_registrations,
                   "as introducer: most registrations held at once; more are refused")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
    app.add_option("--introductions-per-second", introductions_per_second,
                   "as introducer: introductions served per second, overall")
        ->check(CLI::Range(0.1, 1e7));
    app.add_flag("--no-relay", no_relay, "as introducer: never relay traffic between peers that cannot punch");
    app.add_option("--relay-sessions", relay_sessions, "as introducer: most relayed sessions at once")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    app.add_option("--relay-bytes-per-second", relay_rate, "as introducer: relayed bytes per second, all sessions")
        ->check(CLI::Range(1.0, 1e12));
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    app.add_flag("--allow-shared-ip", allow_shared_ip,
                 "allow several routing-table entries per IP; for labs and loopback tests");
    CLI11_PARSE(app, argc, argv);

    auto log = ovl::stderr_logger("overlay-node", log_level);
    std::string error;
    const auto listen_ep = *ovl::cli::parse_endpoint(listen, ovl::cli::port_rule::zero_allowed, error);

    ovl::overlay::overlay_config config;
    config.dht.table.one_node_per_ip = !allow_shared_ip;
    config.introducer.enabled = !no_introducer;
    config.introducer.max_registrations = max_registrations;
    config.introducer.introductions_per_second = introductions_per_second;
    config.relay.enabled = !no_relay && !no_introducer;
    config.relay.max_sessions = relay_sessions;
    config.relay.bytes_per_second = relay_rate;
    for (const auto& text : bootstrap)
        config.dht.bootstrap.push_back(*ovl::cli::parse_endpoint(text, ovl::cli::port_rule::required_nonzero, error));

    std::optional<std::filesystem::path> state_path;
    if (!state_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(state_dir, ec);
        if (ec) {
            log->error("cannot create state directory {}: {}", state_dir, ec.message());
            return 1;
        }
        state_path = ovl::cli::state_file(state_dir);
        if (key_file.empty()) key_file = (std::filesystem::path(state_dir) / "node.key").string();
        // The node id now derives from the key; a saved id from older versions is ignored.
        if (auto saved = ovl::cli::load_node_state(*state_path, *log)) {
            config.dht.saved_nodes = std::move(saved->nodes);
            log->info("reusing {} saved nodes from {}", config.dht.saved_nodes.size(), state_path->string());
        }
    }

    const bool can_join = !config.dht.bootstrap.empty() || !config.dht.saved_nodes.empty();

    try {
        auto self = key_file.empty() ? [] {
            auto rng = ovl::random_source::from_os();
            return ovl::overlay::identity::generate(rng);
        }()
                                     : ovl::overlay::identity::load_or_create(key_file);
        std::optional<ovl::cli::overlay_session> session_storage;
        std::optional<ovl::cli::tcp_acceptor> tcp;
        try {
            session_storage.emplace(std::move(config), std::move(self), listen_ep, log);
            tcp.emplace(ovl::endpoint{listen_ep.address, session_storage->driver().local_endpoint().port}, log);
        } catch (const std::system_error& e) {
            log->error("cannot listen on {}: {}", listen_ep.to_string(), e.code().message());
            return 1;
        }
        auto& session = *session_storage;
        auto& node = session.node();
        auto& driver = session.driver();
        log->info("overlay-node {} started: peer id {}, node id {}, listening on udp and tcp {} (local address {})",
                  OVERLAY_VERSION, node.self().peer_id(), node.dht().id().to_hex(), driver.local_endpoint().to_string(),
                  session.local().to_string());
        if (key_file.empty()) log->info("ephemeral key: the peer id changes on restart (use --key or --state-dir)");

        auto save = [&] {
            if (state_path) ovl::cli::save_node_state(*state_path, {node.dht().id(), node.dht().export_nodes()}, *log);
        };
        if (!can_join) log->info("no bootstrap or saved nodes: waiting for other nodes to contact us");
        driver.post([&](ovl::timestamp now) { node.start(now); });

        std::string last_role;
        std::function<void(ovl::timestamp)> watch_role = [&](ovl::timestamp) {
            auto role = role_line(node);
            if (!role.empty() && role != last_role) {
                log->info("{}", role);
                last_role = std::move(role);
            }
            driver.schedule(role_check_interval, watch_role);
        };
        driver.schedule(role_check_interval, watch_role);

        std::function<void(ovl::timestamp)> report = [&](ovl::timestamp) {
            const auto& dht = node.dht();
            log->info("routing table: {} nodes; storing {} peers for {} info-hashes; {} queries served; {}; "
                      "{} registrations held, {} introductions served, {} relay sessions",
                      dht.table().size(), dht.storage().peer_count(), dht.storage().torrent_count(),
                      queries_served(dht.stats()), to_string(node.profile().verdict),
                      node.introducer().registrations().size(), node.introducer().stats().introductions_ok,
                      node.introducer().relays().stats().sessions_opened);
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
        log->info("stopped after serving {} queries and {} introductions", queries_served(node.dht().stats()),
                  node.introducer().stats().introductions_ok);
    } catch (const std::exception& e) {
        log->critical("fatal error: {}", e.what());
        return 1;
    }
    return 0;
}
