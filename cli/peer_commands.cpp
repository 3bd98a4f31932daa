#include "cli/peer_commands.hpp"

#include "cli/output.hpp"
#include "cli/overlay_session.hpp"
#include "cli/session_options.hpp"
#include "cli/stdin_pump.hpp"
#include "cli/tcp_check.hpp"
#include "cli/udp_check.hpp"

#include <CLI/App.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <numeric>
#include <system_error>

namespace ovl::cli {

namespace {

using namespace std::chrono_literals;
using overlay::connection_event;
using overlay::connection_id;
// A listener with fewer introducers than wanted still says it is ready after this long.
constexpr auto ready_grace = 10s;
constexpr std::size_t ping_size = 32;
// After a stream closes the process stays a moment, so a lost final acknowledgement can
// still be repeated and answered (the peer would otherwise wait for it until it times out).
constexpr auto close_linger = 2s;
// How long the UDP check before a connect waits for any bootstrap node to answer.
constexpr auto udp_check_wait = 1500ms;

enum class command { none, listen, connect };

std::string default_key_file() {
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) return std::string(xdg) + "/overlay/key";
    if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.config/overlay/key";
    return "overlay.key";
}

double millis(duration d) { return std::round(to_seconds(d) * 1e4) / 10; }

void write_stdout(const bytes& data) {
    if (data.empty()) return;
    std::fwrite(data.data(), 1, data.size(), stdout);
    std::fflush(stdout);
}

// What a person can do about each failure the core reports.
std::string actionable(const std::string& error, const std::string& peer_nat) {
    if (error.starts_with("no DHT node answered"))
        return "no bootstrap node answered over UDP: check the --bootstrap addresses, or UDP may be blocked on this "
               "network (run `overlay nat-check`)";
    if (error.starts_with("unknown peer"))
        return error + ": check the peer id, and that `overlay listen` runs with that key and has said it is ready";
    if (error.starts_with("punching failed")) {
        std::string hint = "both NATs must keep one public port per destination for a direct path; --transport "
                           "any also tries a relay";
        if (peer_nat == "nat-symmetric")
            hint = "the peer is behind a symmetric NAT; many-socket probing and relays are not available yet";
        else if (peer_nat == "udp-blocked")
            hint = "the peer's network blocks UDP; TCP and relays are not available yet";
        return fmt::format("{} (peer: {}); {}. Run `overlay nat-check` on both sides; a symmetric NAT on either "
                           "side cannot be punched yet",
                           error, peer_nat.empty() ? "NAT unknown" : peer_nat, hint);
    }
    if (error.starts_with("no direct path"))
        return error + ": the peer's introducers cannot relay right now; try again later, or from a network with a "
                       "cone NAT (see `overlay nat-check`)";
    if (error.starts_with("peer is in the DHT"))
        return error + ": it may have just stopped; try again, or check its firewall";
    return error;
}

// One connection's byte pipe: bytes waiting to be accepted by the stream, and whether
// the writer is done (then the stream is closed once everything went out).
struct pending_writes {
    bool eof = false;
    bool closed = false;
    std::uint64_t written = 0;

    void append(bytes_view b) { data_.insert(data_.end(), b.begin(), b.end()); }
    void assign(bytes b) {
        data_ = std::move(b);
        offset_ = 0;
    }
    bool empty() const { return offset_ == data_.size(); }

    // Hands the stream what it accepts; returns how many bytes that was.
    std::size_t flush(overlay::overlay_node& node, connection_id id) {
        std::size_t n = 0;
        if (!empty()) {
            n = node.write(id, bytes_view(data_).subspan(offset_));
            offset_ += n;
            written += n;
            // Drop the sent prefix only once it is most of the buffer: erasing it after every
            // write would copy the rest each time, quadratic in the size of the input.
            if (empty()) {
                data_.clear();
                offset_ = 0;
            } else if (offset_ > data_.size() / 2) {
                data_.erase(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(offset_));
                offset_ = 0;
            }
        }
        if (eof && empty() && !closed) {
            closed = true;
            node.close(id);
        }
        return n;
    }

private:
    bytes data_;
    std::size_t offset_ = 0;
};

} // namespace

struct peer_commands::options {
    command which = command::none;
    session_options common;
    std::string key_file;
    bool echo = false;
    std::string peer;
    std::string transport = "any";
    bool tcp = false;
    int ping = 0;

    int listen(const output& out) const;
    int connect(const output& out) const;
};

peer_commands::peer_commands(CLI::App& app) : opts_(std::make_unique<options>()) {
    auto& o = *opts_;
    auto* listen = app.add_subcommand("listen", "accept secure connections from peers, through NATs; prints the peer "
                                                "id others connect to");
    listen->add_option("--key", o.key_file,
                       "key file (64 hex digits of ed25519 seed); created (mode 0600) if missing. Default: "
                       "$XDG_CONFIG_HOME/overlay/key, else ~/.config/overlay/key, else ./overlay.key");
    listen->add_flag("--echo", o.echo, "echo every connection's bytes back (instead of piping stdin/stdout)");
    o.common.add_to(listen, "",
                    "one JSON object per line: a ready event (with peer_id) once registered or reachable, then one "
                    "per connection event");
    o.common.log_level = "info";
    listen->callback([&o] { o.which = command::listen; });

    auto* connect = app.add_subcommand("connect", "connect to a peer by its peer id, through NATs; pipes "
                                                  "stdin/stdout, or measures round trips with --ping");
    connect->add_option("PEER_ID", o.peer, "the peer's id, 64 hex digits (what `overlay listen` printed)")->required();
    connect->add_option("--transport", o.transport,
                        "any: direct (LAN or hole-punched UDP), else through a relay; udp: direct only, never relay; "
                        "relay: only through a relay; tcp: KRPC over TCP to the overlay nodes, a direct path to the peer by TCP "
                        "simultaneous open, else the relay through them (chosen automatically by any when UDP gets no "
                        "answer here)")
        ->check(CLI::IsMember({"any", "udp", "tcp", "relay"}));
    connect->add_flag("--tcp", o.tcp,
                      "make the direct path by TCP simultaneous open instead of UDP hole punching (the DHT and the "
                      "introduction still go over UDP); over IPv6 when both peers have it, else over IPv4, where it "
                      "needs port-preserving NATs");
    connect->add_option("--ping", o.ping, "send N small messages and measure their round trips (the peer must "
                                          "run `overlay listen --echo`), then exit")
        ->check(CLI::Range(1, 100000));
    o.common.add_to(connect, "give up after this many seconds (finding, introduction, punching and pings)",
                    "print exactly one JSON object on stdout (keys in docs/CLI.md)");
    connect->callback([&o, connect] {
        o.which = command::connect;
        // The listen default does not apply to connect: its stdout may be data. An
        // explicit --log-level still does.
        if (connect->get_option("--log-level")->count() == 0) o.common.log_level = "warn";
    });
}

peer_commands::~peer_commands() = default;

bool peer_commands::chosen() const { return opts_->which != command::none; }

int peer_commands::run() const {
    const output out(opts_->common.json);
    if (opts_->common.bootstrap.empty()) return out.fail("no node to start from: give at least one --bootstrap IP:PORT");
    return opts_->which == command::listen ? opts_->listen(out) : opts_->connect(out);
}

int peer_commands::options::listen(const output& out) const {
    const auto path = key_file.empty() ? default_key_file() : key_file;
    std::optional<overlay::identity> self;
    try {
        if (const auto dir = std::filesystem::path(path).parent_path(); !dir.empty())
            std::filesystem::create_directories(dir);
        self.emplace(overlay::identity::load_or_create(path));
    } catch (const std::exception& e) {
        return out.fail("cannot use key file " + path + ": " + e.what());
    }
    auto log = stderr_logger("overlay", common.log_level);
    std::optional<overlay_session> s;
    try {
        s.emplace(common.config(), *self, common.bind_endpoint(), log, common.ipv6());
    } catch (const std::system_error& e) {
        return out.fail("cannot bind to " + common.bind + ": " + e.code().message());
    }
    auto& node = s->node();
    if (!out.json()) output::print(node.self().peer_id());
    log->info("listening as {} on {} (key {})", node.self().peer_id(), s->local().to_string(), path);

    // How each punched peer came in, by the endpoint its stream arrives from.
    std::map<endpoint, overlay::incoming_peer> punched;
    node.set_incoming_handler([&](timestamp, const overlay::incoming_peer& in) { punched[in.remote] = in; });

    std::map<connection_id, pending_writes> conns;
    std::optional<connection_id> piped;
    bool piped_used = false;
    bytes from_stdin;
    bool stdin_eof = false;
    bool ready = false;
    int status = 0;
    const auto started = io::steady_now();
    std::optional<stdin_pump> pump;

    s->set_hook([&](timestamp now) {
        if (!ready) {
            const auto p = node.profile();
            const auto held = node.registrations().introducers().size();
            const bool registered = held >= 3 || (held > 0 && now - started >= ready_grace);
            // A reachable listener is found through the DHT by its id: only once it is in it.
            if ((node.serving_as_introducer() && node.in_dht()) ||
                (p.reach == overlay::reachability::unreachable && registered)) {
                ready = true;
                std::vector<std::string> intros;
                for (const auto& e : node.registrations().introducers()) intros.push_back(e.to_string());
                log->info("ready: {}, {}", to_string(p.verdict),
                          node.serving_as_introducer() ? "reachable directly"
                                                       : fmt::format("registered with {}", fmt::join(intros, ", ")));
                if (out.json())
                    out.event({{"event", "ready"},
                               {"peer_id", node.self().peer_id()},
                               {"verdict", to_string(p.verdict)},
                               {"local", s->local().to_string()},
                               {"introducers", intros}});
            }
        }
        while (auto e = node.poll_event()) {
            const auto who = overlay::to_hex(e->peer);
            if (e->what == connection_event::kind::opened) {
                const auto via = punched.find(e->remote);
                const std::string path_name = via != punched.end() ? to_string(via->second.path) : "udp";
                log->info("accepted connection {} from peer {} at {} (path {})", e->id, who, e->remote.to_string(),
                          path_name);
                if (out.json()) {
                    nlohmann::json ev{{"event", "opened"}, {"connection", e->id}, {"peer", who},
                                      {"remote", e->remote.to_string()}, {"path", path_name}};
                    if (via != punched.end()) {
                        ev["introducer"] = via->second.introducer.to_string();
                        ev["punch_ms"] = millis(via->second.elapsed);
                    }
                    out.event(ev);
                }
                if (echo) {
                    conns[e->id];
                } else if (!piped_used) {
                    piped_used = true;
                    piped = e->id;
                    conns[e->id].assign(std::move(from_stdin));
                    conns[e->id].eof = stdin_eof;
                } else {
                    log->info("closing connection {}: stdin/stdout already piped to the first one", e->id);
                    node.close(e->id);
                }
            } else {
                const bool failed = e->what == connection_event::kind::failed;
                log->info("connection {} from {} {}{}", e->id, who, failed ? "failed: " : "closed",
                          failed ? e->reason : "");
                if (out.json())
                    out.event({{"event", failed ? "failed" : "closed"}, {"connection", e->id}, {"peer", who},
                               {"reason", e->reason}});
                // What arrived before the close is still in the stream: deliver it first.
                if (piped == e->id) write_stdout(node.read(e->id));
                conns.erase(e->id);
                if (piped == e->id) {
                    status = failed ? 1 : 0;
                    s->driver().schedule(close_linger, [&](timestamp) { s->driver().stop(); });
                }
            }
        }
        for (auto& [id, w] : conns) {
            auto data = node.read(id);
            if (echo) {
                w.append(data);
                // The peer is done: finish our direction once its bytes went back.
                if (const auto* st = node.stream(id); st && st->peer_finished()) w.eof = true;
            } else {
                write_stdout(data);
            }
            const auto taken = w.flush(node, id);
            if (pump && piped == id) pump->consumed(taken);
        }
    });
    if (!echo)
        pump.emplace(
            [&](bytes chunk) {
                s->run_on_loop([&, chunk = std::move(chunk)](timestamp) {
                    if (piped && conns.contains(*piped))
                        conns[*piped].append(chunk);
                    else
                        from_stdin.insert(from_stdin.end(), chunk.begin(), chunk.end());
                });
            },
            [&] {
                s->run_on_loop([&](timestamp) {
                    stdin_eof = true;
                    if (piped && conns.contains(*piped)) conns[*piped].eof = true;
                });
            });
    s->run_on_loop([&](timestamp now) { node.start(now); });
    s->driver().on_termination_signal([&](int) { s->driver().stop(); });
    s->driver().run();
    return status;
}

int peer_commands::options::connect(const output& out) const {
    const auto target = overlay::public_key_from_hex(peer);
    if (!target) return out.fail("'" + peer + "' is not a peer id: expected 64 hex digits (what `overlay listen` printed)");
    auto log = stderr_logger("overlay", common.log_level);
    auto rng = random_source::from_os();
    auto config = common.config();
    // A client that is about to exit must not be elected as anyone's introducer.
    config.introducer.enabled = false;
    config.policy = transport == "udp"     ? overlay::path_policy::direct_only
                    : transport == "relay" ? overlay::path_policy::relay_only
                                           : overlay::path_policy::relay_ok;
    // Where UDP is blocked, go over TCP to the overlay nodes, and punch TCP to the peer.
    bool over_tcp = transport == "tcp";
    if (transport == "any" && !config.dht.bootstrap.empty() && !udp_answers(config.dht.bootstrap, udp_check_wait)) {
        std::string why;
        over_tcp = tcp_reachable(config.dht.bootstrap.front(), udp_check_wait, why);
        if (over_tcp) log->info("no answer over UDP, but TCP gets through: UDP is blocked here; going over TCP");
    }
    config.udp_blocked = over_tcp;
    std::optional<overlay_session> s;
    try {
        s.emplace(std::move(config), overlay::identity::generate(rng), common.bind_endpoint(), log, common.ipv6());
    } catch (const std::system_error& e) {
        return out.fail("cannot bind to " + common.bind + ": " + e.code().message());
    }
    if (over_tcp) s->tunnel_everything();
    auto& node = s->node();
    if (node.self().public_key_bytes() == *target) return out.fail("that is this client's own id");

    std::string error;
    std::optional<overlay::connect_result> result;
    bool asked = false;
    pending_writes writes;
    std::optional<stdin_pump> pump;
    // --ping: when the current message went out, and the round trips so far.
    std::vector<double> rtts;
    std::size_t echoed = 0;
    timestamp ping_sent{};
    // Piping: bytes each way since the connection opened, for the closing log line.
    timestamp connected_at{};
    std::uint64_t received = 0;

    auto send_ping = [&](timestamp now) {
        writes.assign(bytes(ping_size, static_cast<std::uint8_t>('a' + rtts.size() % 26)));
        ping_sent = now;
        echoed = 0;
    };
    s->set_hook([&](timestamp now) {
        if (!asked) {
            if (node.profile().verdict == overlay::nat_verdict::udp_blocked) {
                error = actionable("no DHT node answered", "");
                s->driver().stop();
                return;
            }
            // Ask once the DHT knows someone: the lookup for the peer's introducers needs a start.
            if (node.dht().table(ip_family::v4).size() + node.dht().table(ip_family::v6).size() == 0) return;
            asked = true;
            overlay::connect_options how;
            how.tcp = tcp;
            node.connect(now, *target, [&](timestamp t, const overlay::connect_result& r) {
                result = r;
                if (!r.ok) {
                    error = actionable(r.error, r.peer_nat);
                    s->driver().stop();
                    return;
                }
                connected_at = t;
                if (ping > 0) send_ping(t);
            }, how);
            return;
        }
        if (!result || !result->ok) return;
        const auto id = result->connection;
        while (auto e = node.poll_event()) {
            if (e->id != id || e->what == connection_event::kind::opened) continue;
            if (e->what == connection_event::kind::failed) {
                error = "the connection failed: " + e->reason;
                s->driver().stop();
            } else if (ping > 0 && static_cast<int>(rtts.size()) < ping) {
                error = fmt::format("the peer closed the connection after {} of {} pings", rtts.size(), ping);
                s->driver().stop();
            } else if (ping > 0) {
                s->driver().stop();
            } else {
                auto rest = node.read(id);
                received += rest.size();
                write_stdout(rest);
                const double secs = to_seconds(now - connected_at);
                log->info("closed: sent {} bytes, received {} in {:.3f} s after connecting ({:.1f} MB/s)",
                          writes.written, received, secs,
                          secs > 0 ? static_cast<double>(writes.written + received) / secs / 1e6 : 0.0);
                s->driver().schedule(close_linger, [&](timestamp) { s->driver().stop(); });
            }
            return;
        }
        auto data = node.read(id);
        if (ping > 0) {
            echoed += data.size();
            if (static_cast<int>(rtts.size()) < ping && echoed >= ping_size && writes.empty()) {
                rtts.push_back(millis(now - ping_sent));
                if (static_cast<int>(rtts.size()) == ping) {
                    // Close both ways (the echo side closes when we do), but never wait long.
                    node.close(id);
                    s->driver().schedule(close_linger, [&](timestamp) { s->driver().stop(); });
                    return;
                }
                send_ping(now);
            }
        } else {
            received += data.size();
            write_stdout(data);
        }
        const auto taken = writes.flush(node, id);
        if (pump) pump->consumed(taken);
    });
    if (ping == 0)
        pump.emplace(
            [&](bytes chunk) {
                s->run_on_loop([&, chunk = std::move(chunk)](timestamp) {
                    writes.append(chunk);
                });
            },
            [&] { s->run_on_loop([&](timestamp) { writes.eof = true; }); });
    s->run_on_loop([&](timestamp now) { node.start(now); });
    s->driver().schedule(common.timeout_duration(), [&](timestamp) {
        // Piping like netcat: once connected, a transfer may take as long as it takes.
        if (result && result->ok && ping == 0) return;
        if (!result)
            error = fmt::format("timed out after {} s {}", common.timeout,
                                asked ? "while finding, introducing or punching to the peer"
                                      : "before any bootstrap node answered (check --bootstrap)");
        else if (ping > 0)
            error = fmt::format("timed out after {} s with {} of {} pings answered (is the peer running `overlay "
                                "listen --echo`?)",
                                common.timeout, rtts.size(), ping);
        else
            error = fmt::format("timed out after {} s", common.timeout);
        s->driver().stop();
    });
    s->driver().on_termination_signal([&](int) {
        if (!result || ping > 0) error = "interrupted";
        s->driver().stop();
    });
    s->driver().run();
    if (!error.empty()) {
        if (!out.json()) return out.fail(error);
        nlohmann::json failure{{"ok", false}, {"error", error}};
        if (result && result->introducer) failure["introducer"] = result->introducer->to_string();
        if (result && !result->peer_nat.empty()) failure["peer_nat"] = result->peer_nat;
        std::fprintf(stderr, "overlay: error: %s\n", error.c_str());
        output::print(failure.dump());
        return 1;
    }
    if (ping == 0) return 0;
    const auto& r = *result;
    const double rtt = std::accumulate(rtts.begin(), rtts.end(), 0.0) / static_cast<double>(rtts.size());
    nlohmann::json res{{"path", to_string(r.path)},
                       {"transport", over_tcp || r.path == overlay::path_kind::tcp ? "tcp" : "udp"},
                       {"family", r.remote.address.is_v6() ? "ipv6" : "ipv4"},
                       {"connect_ms", millis(r.elapsed)},
                       {"rtt_ms", std::round(rtt * 10) / 10},
                       {"rtt_min_ms", *std::min_element(rtts.begin(), rtts.end())},
                       {"rtt_max_ms", *std::max_element(rtts.begin(), rtts.end())},
                       {"pings", rtts.size()},
                       {"remote", r.remote.to_string()},
                       {"introducer", r.introducer ? nlohmann::json(r.introducer->to_string()) : nlohmann::json()},
                       {"peer_nat", r.peer_nat},
                       {"peer_id", peer}};
    return out.succeed(res, fmt::format("connected to {} at {} via {} path in {} ms (introduced by {}); {} round "
                                        "trips: avg {:.1f} ms",
                                        peer.substr(0, 16), r.remote.to_string(), to_string(r.path), millis(r.elapsed),
                                        r.introducer ? r.introducer->to_string() : "nobody", rtts.size(), rtt));
}

} // namespace ovl::cli
