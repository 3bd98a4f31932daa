#include "cli/dht_commands.hpp"

#include "cli/endpoint_option.hpp"
#include "cli/output.hpp"
#include "dht/io/udp_driver.hpp"
#include "dht/node.hpp"

#include <CLI/App.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <system_error>

namespace ovl::cli {

namespace {

using namespace std::chrono_literals;
constexpr auto reannounce_interval = 15min;
constexpr auto retry_interval = 1min;

enum class command { none, ping, get_peers, announce };

std::string seconds_text(duration d) { return fmt::format("{:.1f} s", to_seconds(d)); }

std::vector<std::string> peer_strings(const std::vector<endpoint>& peers) {
    std::vector<std::string> out;
    for (const auto& p : peers) out.push_back(p.to_string());
    return out;
}

// A short-lived node and its socket. Read-only (BEP 43): other nodes must not put a
// command-line client that is about to exit into their routing tables.
struct session {
    session(dht::node_config config, const endpoint& bind, logger_ptr log)
        : node(std::move(config), random_source::from_os(), log, io::steady_now()), driver(node, bind, log) {}
    dht::node node;
    io::udp_driver driver;
};

} // namespace

struct dht_commands::options {
    command which = command::none;
    std::vector<std::string> bootstrap;
    std::string bind = "0.0.0.0:0";
    bool json = false;
    double timeout = 30;
    std::string log_level = "warn";
    bool allow_shared_ip = false;
    std::string target;
    int port = 0;
    bool once = false;

    int run() const;
    int ping(const output& out, session& s, const endpoint& to) const;
    int get_peers(const output& out, session& s, const dht::node_id& info_hash) const;
    int announce(const output& out, session& s, const dht::node_id& info_hash) const;
    // Joins through the bootstrap nodes, then calls `then`; reports failure in `error`.
    void join(session& s, std::string& error, std::function<void(timestamp)> then) const;
    // Stops the loop after the timeout or on SIGINT/SIGTERM, leaving the reason in `error`.
    void arm_limits(session& s, std::string& error) const;
};

dht_commands::dht_commands(CLI::App& dht) : opts_(std::make_unique<options>()) {
    dht.require_subcommand(1);
    auto& o = *opts_;
    auto add_common = [&o](CLI::App* cmd, const std::string& timeout_help) {
        cmd->add_option("--bootstrap", o.bootstrap, "DHT node to join through, IP:PORT; repeatable (required, except by ping, which asks NODE directly)")
            ->check(endpoint_validator(port_rule::required_nonzero));
        cmd->add_option("--bind", o.bind, "local UDP address, IP[:PORT]")->check(endpoint_validator(port_rule::optional));
        cmd->add_flag("--json", o.json, "print exactly one JSON object on stdout");
        cmd->add_option("--timeout", o.timeout, timeout_help)->check(CLI::Range(0.1, 86400.0));
        cmd->add_option("--log-level", o.log_level, "stderr log level: trace, debug, info, warn, error or off")
            ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
        cmd->add_flag("--allow-shared-ip", o.allow_shared_ip,
                      "allow several routing-table entries per IP; for labs and loopback tests");
    };

    auto* ping = dht.add_subcommand("ping", "check that a DHT node answers");
    ping->add_option("NODE", o.target, "the node to ping, IP:PORT")->required();
    add_common(ping, "give up after this many seconds");
    ping->callback([&o] { o.which = command::ping; });

    auto* get_peers = dht.add_subcommand("get-peers", "look up the peers announced for an info-hash");
    get_peers->add_option("INFOHASH", o.target, "info-hash, 40 hex digits")->required();
    add_common(get_peers, "give up after this many seconds (joining and lookup)");
    get_peers->callback([&o] { o.which = command::get_peers; });

    auto* announce = dht.add_subcommand(
        "announce", "announce a peer for an info-hash; stays up and re-announces every 15 min unless --once");
    announce->add_option("INFOHASH", o.target, "info-hash, 40 hex digits")->required();
    announce->add_option("--port", o.port, "the peer's TCP/uTP port to announce")
        ->required()
        ->default_str("")
        ->check(CLI::Range(1, 65535));
    announce->add_flag("--once", o.once, "announce once and exit");
    add_common(announce, "with --once: give up after this many seconds (joining, lookup and announce)");
    announce->callback([&o] { o.which = command::announce; });
}

dht_commands::~dht_commands() = default;

int dht_commands::run() const { return opts_->run(); }

int dht_commands::options::run() const {
    const output out(json);
    std::string error;
    std::optional<endpoint> ping_target;
    std::optional<dht::node_id> info_hash;
    if (which == command::ping) {
        ping_target = parse_endpoint(target, port_rule::required_nonzero, error);
        if (!ping_target) return out.fail(error);
    } else {
        info_hash = dht::node_id::from_hex(target);
        if (!info_hash) return out.fail("'" + target + "' is not an info-hash: expected 40 hex digits");
    }
    dht::node_config config;
    config.read_only = true;
    config.table.one_node_per_ip = !allow_shared_ip;
    for (const auto& text : bootstrap) config.bootstrap.push_back(*parse_endpoint(text, port_rule::required_nonzero, error));
    if (which != command::ping && config.bootstrap.empty())
        return out.fail("no DHT node to start from: give at least one --bootstrap IP:PORT");
    const auto local = *parse_endpoint(bind, port_rule::optional, error);

    auto log = stderr_logger("overlay", log_level);
    std::optional<session> s;
    try {
        s.emplace(std::move(config), local, log);
    } catch (const std::system_error& e) {
        return out.fail("cannot bind to " + local.to_string() + ": " + e.code().message());
    }
    switch (which) {
    case command::ping: return ping(out, *s, *ping_target);
    case command::get_peers: return get_peers(out, *s, *info_hash);
    case command::announce: return announce(out, *s, *info_hash);
    case command::none: break;
    }
    return out.fail("no command given");
}

void dht_commands::options::arm_limits(session& s, std::string& error) const {
    s.driver.schedule(std::chrono::duration_cast<duration>(std::chrono::duration<double>(timeout)),
                      [&s, &error, this](timestamp) {
                          error = fmt::format("timed out after {} s", timeout);
                          s.driver.stop();
                      });
    s.driver.on_termination_signal([&s, &error](int) {
        error = "interrupted";
        s.driver.stop();
    });
}

void dht_commands::options::join(session& s, std::string& error, std::function<void(timestamp)> then) const {
    s.driver.post([&s, &error, then = std::move(then), this](timestamp now) {
        s.node.bootstrap(now, [&s, &error, then, this](timestamp t, std::size_t known) {
            if (known == 0) {
                error = fmt::format("no DHT node answered: none of the {} bootstrap nodes ({}) replied",
                                    bootstrap.size(), fmt::join(bootstrap, ", "));
                s.driver.stop();
                return;
            }
            then(t);
        });
    });
}

int dht_commands::options::ping(const output& out, session& s, const endpoint& to) const {
    std::string error;
    std::optional<dht::node_id> id;
    duration rtt{};
    arm_limits(s, error);
    s.driver.post([&](timestamp now) {
        s.node.ping(now, to, [&](timestamp, std::optional<dht::node_id> answered, duration round_trip) {
            if (answered)
                id = answered;
            else
                error = fmt::format("no valid reply from {} (closed port, firewall, or not a DHT node)",
                                    to.to_string());
            rtt = round_trip;
            s.driver.stop();
        });
    });
    s.driver.run();
    if (!id) return out.fail(error);
    const double rtt_ms = std::round(to_seconds(rtt) * 1e4) / 10;
    return out.succeed({{"node", to.to_string()}, {"id", id->to_hex()}, {"rtt_ms", rtt_ms}},
                       fmt::format("{} answered: node id {}, round trip {} ms", to.to_string(), id->to_hex(), rtt_ms));
}

int dht_commands::options::get_peers(const output& out, session& s, const dht::node_id& info_hash) const {
    std::string error;
    std::optional<dht::lookup_result> result;
    arm_limits(s, error);
    join(s, error, [&](timestamp now) {
        s.node.get_peers(now, info_hash, [&](timestamp, const dht::lookup_result& r) {
            result = r;
            s.driver.stop();
        });
    });
    s.driver.run();
    if (!result) return out.fail(error);
    const auto& r = *result;
    std::string text =
        r.peers.empty()
            ? fmt::format("no peers found for {} ({} of {} queried nodes answered, {})", info_hash.to_hex(),
                          r.responses, r.queries, seconds_text(r.elapsed))
            : fmt::format("{} peer{} for {} ({} of {} queried nodes answered, {}):", r.peers.size(), r.peers.size() == 1 ? "" : "s",
                          info_hash.to_hex(), r.responses, r.queries, seconds_text(r.elapsed));
    for (const auto& p : r.peers) text += "\n  " + p.to_string();
    return out.succeed({{"info_hash", info_hash.to_hex()},
                        {"peers", peer_strings(r.peers)},
                        {"nodes_answered", r.responses},
                        {"nodes_queried", r.queries},
                        {"timeouts", r.timeouts},
                        {"hops", r.hops},
                        {"elapsed_ms", std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count()}},
                       text);
}

int dht_commands::options::announce(const output& out, session& s, const dht::node_id& info_hash) const {
    std::string error;
    std::optional<dht::announce_result> last;
    int rounds_stored = 0;
    const auto port16 = static_cast<std::uint16_t>(port);
    if (once) {
        arm_limits(s, error);
    } else {
        s.driver.on_termination_signal([&s](int) { s.driver.stop(); });
    }

    std::function<void(timestamp)> round = [&](timestamp now) {
        s.node.announce(now, info_hash, port16, false, [&](timestamp, const dht::announce_result& r) {
            last = r;
            if (r.stored_at > 0) ++rounds_stored;
            if (once) {
                s.driver.stop();
                return;
            }
            if (r.stored_at > 0) {
                out.progress(fmt::format("announced {} port {} to {} nodes; next in 15 min", info_hash.to_hex(),
                                         port, r.stored_at));
                s.driver.schedule(reannounce_interval, round);
            } else {
                std::fprintf(stderr, "overlay: warning: no node accepted the announce; retrying in 1 min\n");
                s.driver.schedule(retry_interval, round);
            }
        });
    };
    join(s, error, round);
    s.driver.run();
    if (!last) return out.fail(error.empty() ? "interrupted before the first announce" : error);
    if (rounds_stored == 0)
        return out.fail(fmt::format("no node accepted the announce ({} nodes answered the lookup, {} gave a token)",
                                    last->lookup.responses, last->lookup.closest.size()));
    nlohmann::json result{{"info_hash", info_hash.to_hex()},
                          {"port", port},
                          {"stored_at", last->stored_at},
                          {"nodes_answered", last->lookup.responses}};
    if (once)
        return out.succeed(result, fmt::format("announced {} port {} to {} nodes", info_hash.to_hex(), port,
                                               last->stored_at));
    result["announces"] = rounds_stored;
    return out.succeed(result, fmt::format("stopped after {} successful announces", rounds_stored));
}

} // namespace ovl::cli
