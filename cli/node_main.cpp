// overlay-node: runs one overlay peer (DHT node, NAT discovery, introducer when publicly
// reachable, registrations when not) on a UDP socket until SIGINT/SIGTERM, keeping its
// key and routing table in a state directory across restarts. Settings come from a TOML
// file and flags (cli/node_settings.hpp); SIGHUP reloads the caps and the log level.
#include "cli/endpoint_option.hpp"
#include "cli/metrics_server.hpp"
#include "cli/node_metrics.hpp"
#include "cli/node_settings.hpp"
#include "cli/node_state.hpp"
#include "cli/overlay_session.hpp"

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <variant>

namespace {

using namespace std::chrono_literals;
constexpr auto report_interval = 60s;
constexpr auto save_interval = 5min;
constexpr auto role_check_interval = 1s;
constexpr auto metrics_interval = 1s;
// SIGHUP only sets a flag (all a signal handler may do); the loop looks at it this often.
constexpr auto hangup_poll_interval = 200ms;

volatile std::sig_atomic_t hangup_received = 0;
extern "C" void on_hangup(int) { hangup_received = 1; }

std::uint64_t queries_served(const ovl::dht::node_stats& s) {
    return s.queries_ping + s.queries_find_node + s.queries_get_peers + s.queries_announce + s.queries_extension;
}

// The role line operators wait for; empty while the verdict is unknown.
std::string role_line(const ovl::overlay::overlay_node& node) {
    const auto p = node.profile();
    if (node.serving_as_introducer())
        return node.introducer().limits().enabled ? "reachable: serving as introducer"
                                                  : "reachable, but the introducer role is turned off";
    if (p.verdict == ovl::overlay::nat_verdict::unknown) return {};
    const auto held = node.registrations().introducers().size();
    if (p.verdict == ovl::overlay::nat_verdict::udp_blocked)
        return "udp-blocked: no DHT node answered over UDP (UDP blocked here, or the bootstrap nodes are down)";
    if (p.reach != ovl::overlay::reachability::unreachable)
        return fmt::format("{} ({}), not yet serving as introducer", to_string(p.verdict), to_string(p.reach));
    return fmt::format("behind NAT ({}): registered with {} introducer{}", to_string(p.verdict), held,
                       held == 1 ? "" : "s");
}

// The readiness line, logged once: whether reachability is verified and what the node
// does about it. Empty while dial-back has not settled.
std::string readiness_line(const ovl::overlay::overlay_node& node) {
    const auto p = node.profile();
    if (node.serving_as_introducer())
        return node.introducer().limits().enabled
                   ? "ready: publicly reachable (verified by dial-back), serving as introducer"
                   : "ready: publicly reachable (verified by dial-back); introducer role turned off in the "
                     "configuration, running as a plain DHT node";
    if (p.verdict == ovl::overlay::nat_verdict::udp_blocked)
        return "not ready: no DHT node answered over UDP (UDP blocked here, or the bootstrap nodes are down)";
    if (p.verdict == ovl::overlay::nat_verdict::unknown || p.reach != ovl::overlay::reachability::unreachable) return {};
    return fmt::format("ready: not publicly reachable ({}, dial-back probes did not arrive): running as a plain DHT "
                       "node, not as an introducer",
                       to_string(p.verdict));
}

int config_error(const std::string& message) {
    std::fprintf(stderr, "overlay-node: %s\n", message.c_str());
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"overlay-node: an overlay peer on a mainline DHT (BEP 5) node. Works out whether it is publicly "
                 "reachable (others dial back); if so it serves as an introducer for peers behind NATs, otherwise it "
                 "registers with introducers itself. Also carries KRPC over TCP on its port (same number) for "
                 "clients whose network blocks UDP, which also lets them tell such networks from dead bootstrap "
                 "nodes. Every setting is a key in "
                 "the TOML file given with --config and a flag here (flags win). Logs to stderr; SIGHUP reloads "
                 "the caps and the log level from the file; stops cleanly on SIGINT or SIGTERM."};
    app.option_defaults()->always_capture_default();
    app.set_version_flag("--version", std::string("overlay-node ") + OVERLAY_VERSION);

    std::string config_file;
    bool print_config = false;
    bool check_only = false;
    ovl::cli::node_settings cli_values;
    app.add_option("--config", config_file, "TOML configuration file (see packaging/overlay-node.toml)");
    app.add_flag("--print-config", print_config, "print the effective configuration as TOML and exit");
    app.add_flag("--check", check_only, "check the configuration (file and flags) and exit: 0 when valid");
    ovl::cli::add_setting_options(app, cli_values);
    CLI11_PARSE(app, argc, argv);

    // Reads the file (if any) and lays the flags over it: what the node runs with.
    auto effective = [&]() -> std::variant<ovl::cli::node_settings, std::string> {
        ovl::cli::node_settings s;
        if (!config_file.empty())
            if (auto e = ovl::cli::load_config_file(config_file, s)) return *e;
        ovl::cli::apply_command_line(app, cli_values, s);
        if (auto e = ovl::cli::validate(s)) return *e;
        return s;
    };
    auto loaded = effective();
    if (auto* e = std::get_if<std::string>(&loaded)) return config_error(*e);
    const auto settings = std::get<ovl::cli::node_settings>(loaded);
    if (print_config) {
        std::fputs(ovl::cli::to_toml(settings).c_str(), stdout);
        return 0;
    }
    if (check_only) {
        std::printf("configuration is valid\n");
        return 0;
    }

    auto log = ovl::stderr_logger("overlay-node", settings.log_level);
    // Early, so that a reload request during start-up never kills the node (SIGHUP's default).
    struct sigaction hangup {};
    hangup.sa_handler = on_hangup;
    sigemptyset(&hangup.sa_mask);
    hangup.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &hangup, nullptr);
    std::string error;
    const auto listen_ep = *ovl::cli::parse_endpoint(settings.listen, ovl::cli::port_rule::zero_allowed, error);

    ovl::overlay::overlay_config config;
    config.dht.table.one_node_per_ip = !settings.allow_shared_ip;
    if (listen_ep.address.is_v6()) config.dht.families = {false, true};
    ovl::cli::apply_storage_budget(settings.dht_storage_bytes, config.dht);
    config.introducer = ovl::cli::introducer_limits_of(settings);
    config.relay = ovl::cli::relay_limits_of(settings);
    for (const auto& text : settings.bootstrap)
        config.dht.bootstrap.push_back(*ovl::cli::parse_endpoint(text, ovl::cli::port_rule::required_nonzero, error));
    auto key_file = settings.key;

    std::optional<std::filesystem::path> state_path;
    if (!settings.state_dir.empty()) {
        const auto& state_dir = settings.state_dir;
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
        try {
            const auto ipv6 = listen_ep.address.is_v6() ? std::nullopt
                                                         : ovl::cli::resolve_ipv6_setting(settings.listen6, config.dht.bootstrap);
            session_storage.emplace(std::move(config), std::move(self), listen_ep, log, ipv6);
            // Clients whose network blocks UDP reach us over TCP on the same port number.
            session_storage->serve_tcp(ovl::endpoint{listen_ep.address, session_storage->driver().local_endpoint().port});
        } catch (const std::system_error& e) {
            log->error("cannot listen on {}: {}", listen_ep.to_string(), e.code().message());
            return 1;
        }
        std::optional<ovl::cli::metrics_server> metrics;
        if (!settings.metrics_listen.empty()) {
            const auto at = *ovl::cli::parse_endpoint(settings.metrics_listen, ovl::cli::port_rule::zero_allowed, error);
            try {
                metrics.emplace(at, log);
            } catch (const std::system_error& e) {
                log->error("cannot serve metrics on {}: {}", at.to_string(), e.code().message());
                return 1;
            }
            log->info("metrics at http://{}/metrics", metrics->local_endpoint().to_string());
        }
        auto& session = *session_storage;
        auto& node = session.node();
        auto& driver = session.driver();
        log->info("overlay-node {} started: peer id {}, node id {}, listening on udp and tcp {} (local address {}){}",
                  OVERLAY_VERSION, node.self().peer_id(), node.dht().id().to_hex(), driver.local_endpoint().to_string(),
                  session.local().to_string(),
                  session.local6() ? ", and on udp " + driver.local_endpoint(ovl::ip_family::v6)->to_string() : "");
        if (key_file.empty()) log->info("ephemeral key: the peer id changes on restart (use --key or --state-dir)");

        auto save = [&] {
            if (state_path) ovl::cli::save_node_state(*state_path, {node.dht().id(), node.dht().export_nodes()}, *log);
        };
        if (!can_join)
            log->info("not ready: no bootstrap or saved nodes ([node] bootstrap): waiting for other nodes to contact us");
        driver.post([&](ovl::timestamp now) { node.start(now); });

        std::string last_role;
        bool announced_ready = false;
        std::function<void(ovl::timestamp)> watch_role = [&](ovl::timestamp) {
            auto role = role_line(node);
            if (!role.empty() && role != last_role) {
                log->info("{}", role);
                last_role = std::move(role);
            }
            if (!announced_ready) {
                const auto ready = readiness_line(node);
                if (!ready.empty()) log->info("{}", ready);
                announced_ready = !ready.empty();
            }
            driver.schedule(role_check_interval, watch_role);
        };
        driver.schedule(role_check_interval, watch_role);

        std::function<void(ovl::timestamp)> report = [&](ovl::timestamp) {
            const auto& dht = node.dht();
            log->info("routing table: {} nodes, {} IPv6; storing {} peers for {} info-hashes; {} queries served; {}; "
                      "{} registrations held, {} introductions served, {} relay sessions",
                      dht.table().size(), dht.table(ovl::ip_family::v6).size(), dht.storage().peer_count(), dht.storage().torrent_count(),
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

        std::function<void(ovl::timestamp)> publish_metrics = [&](ovl::timestamp) {
            metrics->publish(ovl::cli::prometheus_text(node));
            driver.schedule(metrics_interval, publish_metrics);
        };
        if (metrics) driver.post(publish_metrics);

        // Caps and the log level come from the file again; registrations and relay
        // sessions stay. Other keys need a restart, which the log says.
        auto reload = [&] {
            if (config_file.empty()) {
                log->warn("SIGHUP: started without --config, nothing to reload");
                return;
            }
            auto fresh = effective();
            if (auto* e = std::get_if<std::string>(&fresh)) {
                log->error("SIGHUP: keeping the running configuration: {}", *e);
                return;
            }
            const auto& next = std::get<ovl::cli::node_settings>(fresh);
            for (const auto& key : ovl::cli::restart_keys_changed(settings, next))
                log->warn("SIGHUP: {} changed, takes effect after a restart", key);
            log->set_level(spdlog::level::from_str(next.log_level));
            node.set_limits(ovl::cli::introducer_limits_of(next), ovl::cli::relay_limits_of(next));
            log->info("SIGHUP: reloaded {}: introducer {}, max {} registrations, {} introductions/s; relay {}, {} "
                      "sessions, {} bytes/s, {} bytes/month; log level {}",
                      config_file, next.introducer ? "on" : "off", next.max_registrations, next.introductions_per_second,
                      next.relay ? "on" : "off", next.relay_max_sessions, next.relay_bytes_per_second,
                      next.relay_bytes_per_month, next.log_level);
        };
        std::function<void(ovl::timestamp)> watch_hangup = [&](ovl::timestamp) {
            if (hangup_received) {
                hangup_received = 0;
                reload();
            }
            driver.schedule(hangup_poll_interval, watch_hangup);
        };
        driver.schedule(hangup_poll_interval, watch_hangup);

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
