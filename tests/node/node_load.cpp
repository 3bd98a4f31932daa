// A KRPC client that drives a running overlay-node over UDP, for its tests and its soak
// benchmark: signed registrations (like a peer behind a NAT), introductions, and DHT
// queries. Prints one JSON object per result so scripts can check what a user would see.
//
//   node_load --node IP:PORT register N             N fresh keys register
//   node_load --node IP:PORT introduce N            one target registers, N introductions to it
//   node_load --node IP:PORT relay N                one target registers, N relay sessions to it
//   node_load --node IP:PORT announce N             announce_peer to N fresh info-hashes
//   node_load --node IP:PORT relay-frames N SIZE    open a relay session, send N frames of
//       SIZE payload bytes through it, count those that reach the other end
//   node_load --node IP:PORT soak --seconds S --rate R
//       open-loop mixed load (70% DHT queries, 15% registrations, 15% introductions),
//       one line per second with throughput and latency percentiles; with several
//       --bind addresses the load is spread over them (the node limits each IP).
#include "dht/bencode/encode.hpp"
#include "dht/krpc/codec.hpp"
#include "dht/node_id.hpp"
#include "overlay/identity.hpp"
#include "overlay/introducer_service.hpp"
#include "overlay/relay_table.hpp"

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>

namespace {

using namespace ovl;
using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr auto reply_timeout = std::chrono::seconds(2);

sockaddr_in to_sockaddr(const std::string& ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) throw std::runtime_error("not an IPv4 address: " + ip);
    return a;
}

// One UDP socket; replies are matched to queries by transaction id.
class krpc_socket {
public:
    krpc_socket(const std::string& bind_ip, const sockaddr_in& node) : node_(node) {
        fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
        auto local = to_sockaddr(bind_ip, 0);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
            throw std::runtime_error("cannot bind a UDP socket on " + bind_ip);
    }
    ~krpc_socket() { ::close(fd_); }
    krpc_socket(const krpc_socket&) = delete;
    krpc_socket& operator=(const krpc_socket&) = delete;

    std::string send_query(const std::string& method, bencode::dict args) {
        const auto tid = std::to_string(next_tid_++);
        args.emplace("id", self_.to_bytes());
        auto q = krpc::message::query(tid, method, std::move(args));
        // Read-only (BEP 43): the node must not put this load generator in its table.
        q.read_only = true;
        const auto wire = krpc::encode(q);
        ::sendto(fd_, wire.data(), wire.size(), 0, reinterpret_cast<const sockaddr*>(&node_), sizeof node_);
        return tid;
    }

    // The next response or error, or nullopt after `wait` (queries to us are skipped).
    std::optional<krpc::message> receive(std::chrono::milliseconds wait) {
        const auto until = clock_type::now() + wait;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now());
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count()))) <= 0) return std::nullopt;
            if (auto m = read_one()) return m;
        }
    }

    // One waiting datagram, if it is a response or an error; never blocks.
    std::optional<krpc::message> read_one() {
        std::uint8_t buffer[2048];
        const auto n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n <= 0) return std::nullopt;
        auto decoded = krpc::decode(std::span<const std::uint8_t>(buffer, static_cast<std::size_t>(n)));
        if (auto* m = std::get_if<krpc::message>(&decoded); m && m->kind != krpc::message_kind::query) return *m;
        return std::nullopt;
    }

    int fd() const { return fd_; }

    void send_raw(const bytes& datagram) {
        ::sendto(fd_, datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&node_), sizeof node_);
    }

    // The next datagram of any kind, or nullopt after `wait`.
    std::optional<bytes> receive_raw(std::chrono::milliseconds wait) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return std::nullopt;
        bytes buffer(65536);
        const auto n = ::recv(fd_, buffer.data(), buffer.size(), 0);
        if (n < 0) return std::nullopt;
        buffer.resize(static_cast<std::size_t>(n));
        return buffer;
    }

    krpc::message call(const std::string& method, bencode::dict args) {
        const auto tid = send_query(method, std::move(args));
        const auto until = clock_type::now() + reply_timeout;
        while (clock_type::now() < until) {
            auto m = receive(std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now()));
            if (m && m->transaction_id == tid) return *m;
        }
        throw std::runtime_error("no reply to " + method + " within 2 s");
    }

private:
    int fd_ = -1;
    sockaddr_in node_;
    random_source rng_ = random_source::from_os();
    dht::node_id self_ = dht::node_id::random(rng_);
    // Shared by all sockets, so that a transaction id names one query of the whole run.
    static inline std::uint64_t next_tid_ = 1;
};

std::string key_bytes(const overlay::identity& id) {
    const auto& k = id.public_key_bytes();
    return {k.begin(), k.end()};
}

// What the node answered, as a short label: "ok", or the KRPC error text.
std::string outcome(const krpc::message& m) {
    return m.kind == krpc::message_kind::error ? m.error_message : "ok";
}

// The tokens the introducer bound to our IP, per key; the first query of a key fetches one.
class peer_client {
public:
    explicit peer_client(krpc_socket& s) : socket_(s) {}

    bencode::dict register_args(const overlay::identity& id, const std::string& token) {
        bencode::dict args{{"k", key_bytes(id)}, {"tok", token}, {"nat", std::string("nat-cone")}};
        const auto sig = id.sign(overlay::introducer_service::registration_message(*introducer_id_, token, args));
        args.emplace("sig", std::string(sig.begin(), sig.end()));
        return args;
    }

    krpc::message register_peer(const overlay::identity& id) {
        auto first = socket_.call("ovl_register", {{"k", key_bytes(id)}});
        const auto* token = bencode::find_string(first.body, "tok");
        if (!token) return first;
        learn_id(first);
        return socket_.call("ovl_register", register_args(id, *token));
    }

    // Each request gets its own 8-byte session id, so relay requests open distinct sessions.
    bencode::dict introduce_args(const overlay::identity& requester, const overlay::identity& target,
                                 const std::string& token) {
        bencode::dict args{{"k", key_bytes(requester)}, {"t", key_bytes(target)}, {"sid", fmt::format("{:08}", next_sid_++ % 100000000)}};
        if (!token.empty()) args.emplace("tok", token);
        return args;
    }

    // `method` is ovl_introduce or ovl_relay; a reply that only hands out a token is retried with it.
    krpc::message introduce(const overlay::identity& requester, const overlay::identity& target,
                            const std::string& method = "ovl_introduce") {
        auto& token = tokens_[key_bytes(requester)];
        auto reply = socket_.call(method, introduce_args(requester, target, token));
        if (is_token_only(reply)) {
            token = *bencode::find_string(reply.body, "tok");
            reply = socket_.call(method, introduce_args(requester, target, token));
        }
        return reply;
    }

    static bool is_token_only(const krpc::message& reply) {
        return reply.kind == krpc::message_kind::response && bencode::find_string(reply.body, "tok") &&
               !bencode::find_string(reply.body, "sid") && !bencode::find_int(reply.body, "ttl");
    }

    void learn_id(const krpc::message& reply) {
        if (const auto* id = bencode::find_string(reply.body, "id")) introducer_id_ = dht::node_id::from_bytes(*id);
        if (!introducer_id_) throw std::runtime_error("the node's reply carries no node id");
    }
    const std::optional<dht::node_id>& introducer_id() const { return introducer_id_; }

private:
    krpc_socket& socket_;
    std::optional<dht::node_id> introducer_id_;
    std::map<std::string, std::string> tokens_;
    std::uint64_t next_sid_ = 0;
};

json count_outcomes(const std::map<std::string, int>& counts) {
    json out = json::object();
    for (const auto& [what, n] : counts) out[what] = n;
    return out;
}

int run_register(krpc_socket& s, random_source& rng, int n) {
    peer_client client(s);
    std::map<std::string, int> counts;
    for (int i = 0; i < n; ++i) ++counts[outcome(client.register_peer(overlay::identity::generate(rng)))];
    std::printf("%s\n", json{{"mode", "register"}, {"outcomes", count_outcomes(counts)}}.dump().c_str());
    return 0;
}

int run_introduce(krpc_socket& s, random_source& rng, int n, const std::string& method) {
    peer_client client(s);
    const auto target = overlay::identity::generate(rng);
    const auto registered = outcome(client.register_peer(target));
    std::map<std::string, int> counts;
    const auto requester = overlay::identity::generate(rng);
    for (int i = 0; i < n; ++i) ++counts[outcome(client.introduce(requester, target, method))];
    std::printf("%s\n",
                json{{"mode", method}, {"target_registration", registered}, {"outcomes", count_outcomes(counts)}}
                    .dump()
                    .c_str());
    return 0;
}

int run_announce(krpc_socket& s, random_source& rng, int n) {
    std::map<std::string, int> counts;
    for (int i = 0; i < n; ++i) {
        const auto info_hash = dht::node_id::random(rng).to_bytes();
        const auto peers = s.call("get_peers", {{"info_hash", info_hash}});
        const auto* token = bencode::find_string(peers.body, "token");
        if (!token) {
            ++counts["no token"];
            continue;
        }
        ++counts[outcome(s.call("announce_peer", {{"info_hash", info_hash}, {"port", std::int64_t{6881}}, {"token", *token}}))];
    }
    std::printf("%s\n", json{{"mode", "announce"}, {"outcomes", count_outcomes(counts)}}.dump().c_str());
    return 0;
}

// The node forwards relay frames only within its caps: how many of `n` get through.
int run_relay_frames(krpc_socket& from, krpc_socket& to, random_source& rng, int n, std::size_t size) {
    peer_client requester_side(from), target_side(to);
    const auto target = overlay::identity::generate(rng);
    if (auto r = target_side.register_peer(target); r.kind == krpc::message_kind::error)
        throw std::runtime_error("cannot register: " + r.error_message);
    const auto reply = requester_side.introduce(overlay::identity::generate(rng), target, "ovl_relay");
    const auto* sid = bencode::find_string(reply.body, "sid");
    if (reply.kind == krpc::message_kind::error || !sid) {
        std::printf("%s\n", json{{"mode", "relay-frames"}, {"session", outcome(reply)}}.dump().c_str());
        return 0;
    }
    const auto frame = overlay::relay_table::frame(*sid, bytes(size, 0x5a));
    // Paced, and read as they come, so that no socket buffer overflows: every frame meets
    // the node's caps. Half a second of silence at the end ends the count.
    int delivered = 0;
    for (int i = 0; i < n; ++i) {
        from.send_raw(frame);
        while (auto d = to.receive_raw(std::chrono::milliseconds(1)))
            if (*d == frame) ++delivered;
    }
    while (auto d = to.receive_raw(std::chrono::milliseconds(500)))
        if (*d == frame) ++delivered;
    std::printf("%s\n", json{{"mode", "relay-frames"}, {"session", "ok"}, {"sent", n}, {"delivered", delivered}}
                            .dump()
                            .c_str());
    return 0;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// The next response or error on any of `sockets`, or nullopt after `wait` (to the
// microsecond: a millisecond poll would spin between sends at 1000 queries/s).
std::optional<krpc::message> receive_any(std::vector<std::unique_ptr<krpc_socket>>& sockets,
                                         std::chrono::microseconds wait) {
    std::vector<pollfd> fds;
    for (const auto& s : sockets) fds.push_back({s->fd(), POLLIN, 0});
    const auto us = std::max<std::int64_t>(0, wait.count());
    const timespec timeout{static_cast<time_t>(us / 1'000'000), static_cast<long>(us % 1'000'000 * 1000)};
    if (::ppoll(fds.data(), fds.size(), &timeout, nullptr) <= 0) return std::nullopt;
    for (std::size_t i = 0; i < fds.size(); ++i)
        if (fds[i].revents & POLLIN)
            if (auto m = sockets[i]->read_one()) return m;
    return std::nullopt;
}

// Open loop: queries leave at `rate` per second whatever the node does, so a slow node
// shows as latency and timeouts rather than as a politely slower client. The load is
// spread over one socket per source address, since the node limits datagrams per IP.
int run_soak(std::vector<std::unique_ptr<krpc_socket>>& sockets, random_source& rng, double seconds, double rate) {
    // Registered targets and requesters, at least one per source address; each key
    // always uses the same socket, because the introducer binds its token to that IP.
    struct peer {
        overlay::identity id;
        std::size_t socket;
        std::string token;
    };
    const auto pool = std::max<std::size_t>(16, sockets.size());
    std::vector<peer_client> clients;
    for (auto& s : sockets) clients.emplace_back(*s);
    std::vector<peer> targets, requesters;
    for (std::size_t i = 0; i < pool; ++i) {
        targets.push_back({overlay::identity::generate(rng), i % sockets.size(), {}});
        auto& t = targets.back();
        const auto r = clients[t.socket].register_peer(t.id);
        if (r.kind == krpc::message_kind::error) throw std::runtime_error("cannot register: " + r.error_message);
        t.token = *bencode::find_string(sockets[t.socket]->call("ovl_register", {{"k", key_bytes(t.id)}}).body, "tok");
        requesters.push_back({overlay::identity::generate(rng), i % sockets.size(), {}});
        auto& q = requesters.back();
        const auto reply = sockets[q.socket]->call("ovl_introduce", clients[q.socket].introduce_args(q.id, t.id, ""));
        q.token = *bencode::find_string(reply.body, "tok");
    }

    struct pending {
        clock_type::time_point sent;
        const char* kind;
        // Registrations and introductions: whose token the reply may renew.
        peer* who = nullptr;
    };
    std::map<std::string, pending> in_flight;
    std::vector<double> latencies_ms;
    std::map<std::string, std::uint64_t> sent, answered, errors;
    std::uint64_t timeouts = 0;
    const auto start = clock_type::now();
    const auto end = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
    const auto gap = std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(1.0 / rate));
    auto next_send = start;
    auto next_report = start + std::chrono::seconds(1);
    std::uint64_t i = 0;

    auto report = [&](double at) {
        std::uint64_t total_sent = 0, total_answered = 0;
        json by_kind = json::object();
        for (const auto& [kind, n] : sent) {
            total_sent += n;
            total_answered += answered[kind];
            by_kind[kind] = {{"sent", n}, {"answered", answered[kind]}, {"errors", errors[kind]}};
        }
        std::printf("%s\n", json{{"t", at},
                                 {"sent", total_sent},
                                 {"answered", total_answered},
                                 {"timeouts", timeouts},
                                 {"p50_ms", percentile(latencies_ms, 0.50)},
                                 {"p99_ms", percentile(latencies_ms, 0.99)},
                                 {"by_kind", by_kind}}
                                .dump()
                                .c_str());
        std::fflush(stdout);
        latencies_ms.clear();
        sent.clear();
        answered.clear();
        errors.clear();
        timeouts = 0;
    };

    // Until the report for the last second is out.
    while (next_report <= end) {
        const auto now = clock_type::now();
        if (now >= next_send) {
            next_send += gap;
            const auto slot = i++ % 20;
            std::string tid;
            const char* kind;
            peer* who = nullptr;
            if (slot < 14) {
                static constexpr const char* dht_methods[] = {"ping", "find_node", "get_peers"};
                kind = dht_methods[slot % 3];
                bencode::dict args;
                const auto target = dht::node_id::random(rng).to_bytes();
                if (slot % 3 == 1) args.emplace("target", target);
                if (slot % 3 == 2) args.emplace("info_hash", target);
                tid = sockets[i % sockets.size()]->send_query(kind, std::move(args));
            } else if (slot < 17) {
                kind = "ovl_register";
                who = &targets[rng.uniform(targets.size())];
                tid = sockets[who->socket]->send_query(kind, clients[who->socket].register_args(who->id, who->token));
            } else {
                kind = "ovl_introduce";
                who = &requesters[rng.uniform(requesters.size())];
                const auto& t = targets[rng.uniform(targets.size())];
                tid = sockets[who->socket]->send_query(kind, clients[who->socket].introduce_args(who->id, t.id, who->token));
            }
            in_flight[tid] = {now, kind, who};
            ++sent[kind];
        }
        if (now >= next_report) {
            for (auto it = in_flight.begin(); it != in_flight.end();) {
                if (now - it->second.sent > reply_timeout) {
                    ++timeouts;
                    it = in_flight.erase(it);
                } else {
                    ++it;
                }
            }
            report(std::chrono::duration<double>(next_report - start).count());
            next_report += std::chrono::seconds(1);
        }
        const auto wait = std::chrono::duration_cast<std::chrono::microseconds>(std::min(next_send, next_report) - now);
        if (auto m = receive_any(sockets, wait)) {
            auto it = in_flight.find(m->transaction_id);
            if (it == in_flight.end()) continue;
            latencies_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - it->second.sent).count());
            ++answered[it->second.kind];
            if (m->kind == krpc::message_kind::error) ++errors[it->second.kind];
            // Tokens rotate (every 5 min): a reply carrying only a new one renews ours.
            if (it->second.who && peer_client::is_token_only(*m)) it->second.who->token = *bencode::find_string(m->body, "tok");
            in_flight.erase(it);
        }
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"node_load: drives a running overlay-node over UDP (tests and soak benchmark)"};
    std::string node = "127.0.0.1:6881";
    std::vector<std::string> bind_ips{"127.0.0.1"};
    app.add_option("--node", node, "the overlay-node, IPv4:PORT");
    app.add_option("--bind", bind_ips, "local IPv4 addresses to send from (repeatable; soak spreads over all)");
    int count = 0;
    auto* reg = app.add_subcommand("register", "register N fresh keys");
    reg->add_option("N", count)->required();
    auto* intro = app.add_subcommand("introduce", "register a target, then ask N introductions to it");
    intro->add_option("N", count)->required();
    auto* relay = app.add_subcommand("relay", "register a target, then ask N relay sessions to it");
    relay->add_option("N", count)->required();
    auto* announce = app.add_subcommand("announce", "announce a peer for N fresh info-hashes");
    announce->add_option("N", count)->required();
    std::size_t frame_size = 1000;
    auto* frames = app.add_subcommand("relay-frames", "open a relay session and send N frames through it");
    frames->add_option("N", count)->required();
    frames->add_option("SIZE", frame_size, "payload bytes per frame")->required();
    double seconds = 20;
    double rate = 1000;
    auto* soak = app.add_subcommand("soak", "steady mixed load, one JSON line per second");
    soak->add_option("--seconds", seconds)->check(CLI::PositiveNumber);
    soak->add_option("--rate", rate, "queries per second")->check(CLI::Range(1.0, 1e6));
    app.require_subcommand(1);
    CLI11_PARSE(app, argc, argv);

    try {
        const auto colon = node.rfind(':');
        if (colon == std::string::npos) throw std::runtime_error("--node must be IPv4:PORT");
        const auto target = to_sockaddr(node.substr(0, colon), static_cast<std::uint16_t>(std::stoi(node.substr(colon + 1))));
        std::vector<std::unique_ptr<krpc_socket>> sockets;
        for (const auto& ip : bind_ips) sockets.push_back(std::make_unique<krpc_socket>(ip, target));
        auto rng = random_source::from_os();
        if (reg->parsed()) return run_register(*sockets.front(), rng, count);
        if (intro->parsed()) return run_introduce(*sockets.front(), rng, count, "ovl_introduce");
        if (relay->parsed()) return run_introduce(*sockets.front(), rng, count, "ovl_relay");
        if (announce->parsed()) return run_announce(*sockets.front(), rng, count);
        if (frames->parsed()) {
            // The session's two ends: a second socket on the same address when only one is given.
            if (sockets.size() < 2) sockets.push_back(std::make_unique<krpc_socket>(bind_ips.front(), target));
            return run_relay_frames(*sockets[0], *sockets[1], rng, count, frame_size);
        }
        return run_soak(sockets, rng, seconds, rate);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "node_load: %s\n", e.what());
        return 1;
    }
}
