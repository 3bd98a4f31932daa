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
//   node_load --node IP:PORT --bind IP --bind-count S fill N [--window W] [--deadline S] [--wait-go]
//       [--refresh --pid PID]
//       benchmark: N fresh keys register over S source addresses, closed loop; with
//       --refresh each then refreshes once, and the node's CPU time for that is reported
//   node_load --node IP:PORT --bind IP --bind-count S introduce-load --pid PID [--targets T]
//       [--window W] [--warmup S] [--seconds S]
//       benchmark: introductions per second of the node's CPU time, closed loop
//   (tests/bench/node_introducer_bench runs both against a real overlay-node.)
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
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
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

// A registration's arguments, signed over the introducer's id and the IP-bound token.
bencode::dict signed_register_args(const overlay::identity& id, const dht::node_id& introducer, const std::string& token) {
    bencode::dict args{{"k", key_bytes(id)}, {"tok", token}, {"nat", std::string("nat-cone")}};
    const auto sig = id.sign(overlay::introducer_service::registration_message(introducer, token, args));
    args.emplace("sig", std::string(sig.begin(), sig.end()));
    return args;
}

// The tokens the introducer bound to our IP, per key; the first query of a key fetches one.
class peer_client {
public:
    explicit peer_client(krpc_socket& s) : socket_(s) {}

    bencode::dict register_args(const overlay::identity& id, const std::string& token) {
        return signed_register_args(id, *introducer_id_, token);
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


// ---- Introducer benchmarks over many source addresses (tests/bench/node_introducer_bench) ----
// Both keep a window of queries outstanding (closed loop) over one socket per source
// address, match every reply by transaction id, socket and sender, and validate it.

// `count` consecutive IPv4 addresses from `first`.
std::vector<std::string> address_range(const std::string& first, int count) {
    in_addr a{};
    if (inet_pton(AF_INET, first.c_str(), &a) != 1) throw std::runtime_error("not an IPv4 address: " + first);
    std::vector<std::string> out;
    for (int i = 0; i < count; ++i) {
        in_addr b{htonl(ntohl(a.s_addr) + static_cast<std::uint32_t>(i))};
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &b, text, sizeof text);
        out.emplace_back(text);
    }
    return out;
}

// utime + stime of a whole process (all threads), in seconds.
double process_cpu_seconds(int pid) {
    std::FILE* f = std::fopen(fmt::format("/proc/{}/stat", pid).c_str(), "r");
    if (!f) throw std::runtime_error(fmt::format("process {} is gone", pid));
    char buffer[4096];
    const auto n = std::fread(buffer, 1, sizeof buffer - 1, f);
    std::fclose(f);
    buffer[n] = 0;
    const char* p = std::strrchr(buffer, ')');
    if (!p) throw std::runtime_error("cannot read /proc/PID/stat");
    // After the command: field 3 (state) onwards; utime and stime are fields 14 and 15.
    unsigned long long utime = 0, stime = 0;
    if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        throw std::runtime_error("cannot read /proc/PID/stat");
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A window slot's transaction id: slot (16 bits) and generation (16 bits), so a late reply
// to a query given up on is told from the slot's current one.
std::string slot_tid(std::uint32_t slot, std::uint16_t generation) {
    return {static_cast<char>(slot >> 8), static_cast<char>(slot), static_cast<char>(generation >> 8),
            static_cast<char>(generation)};
}
bool read_slot_tid(const std::string& tid, std::uint32_t& slot, std::uint16_t& generation) {
    if (tid.size() != 4) return false;
    const auto* u = reinterpret_cast<const std::uint8_t*>(tid.data());
    slot = static_cast<std::uint32_t>(u[0] << 8 | u[1]);
    generation = static_cast<std::uint16_t>(u[2] << 8 | u[3]);
    return true;
}

struct window_slot {
    std::uint32_t socket = 0;
    std::uint32_t peer = 0;
    std::uint16_t generation = 0;
    std::uint8_t phase = 0;
    bool busy = false;
    clock_type::time_point sent;
};

// Every waiting datagram on the sockets epoll reports, batched with recvmmsg. The loads
// poll it without sleeping (timeout 0) on a core of their own: a datagram the node sends to
// a sleeping receiver wakes it (an inter-processor interrupt, dear in a VM) inside the
// node's sendmmsg, a cost of this loopback benchmark rather than of the node's work.
class socket_poller {
public:
    explicit socket_poller(const std::vector<std::unique_ptr<krpc_socket>>& sockets) {
        epoll_ = ::epoll_create1(0);
        if (epoll_ < 0) throw std::runtime_error("epoll_create1 failed");
        for (std::size_t i = 0; i < sockets.size(); ++i) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u32 = static_cast<std::uint32_t>(i);
            ::epoll_ctl(epoll_, EPOLL_CTL_ADD, sockets[i]->fd(), &ev);
        }
        fds_.reserve(sockets.size());
        for (const auto& s : sockets) fds_.push_back(s->fd());
    }
    ~socket_poller() { ::close(epoll_); }
    socket_poller(const socket_poller&) = delete;
    socket_poller& operator=(const socket_poller&) = delete;

    // on(socket index, datagram, sender)
    template <class F>
    void poll(int timeout_ms, F&& on) {
        epoll_event events[256];
        const int n = ::epoll_wait(epoll_, events, 256, timeout_ms);
        for (int e = 0; e < n; ++e) {
            const auto index = events[e].data.u32;
            constexpr int batch = 16;
            mmsghdr msgs[batch]{};
            iovec iov[batch];
            sockaddr_in from[batch];
            for (int j = 0; j < batch; ++j) {
                iov[j] = {buffers_[static_cast<std::size_t>(j)].data(), buffers_[static_cast<std::size_t>(j)].size()};
                msgs[j].msg_hdr.msg_iov = &iov[j];
                msgs[j].msg_hdr.msg_iovlen = 1;
                msgs[j].msg_hdr.msg_name = &from[j];
                msgs[j].msg_hdr.msg_namelen = sizeof from[j];
            }
            const int got = ::recvmmsg(fds_[index], msgs, batch, MSG_DONTWAIT, nullptr);
            for (int j = 0; j < got; ++j)
                on(index, std::span<const std::uint8_t>(buffers_[static_cast<std::size_t>(j)].data(), msgs[j].msg_len), from[j]);
        }
    }

private:
    int epoll_ = -1;
    std::vector<int> fds_;
    std::array<std::array<std::uint8_t, 2048>, 16> buffers_{};
};

bool same_endpoint(const sockaddr_in& a, const sockaddr_in& b) {
    return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

// Every query of the benchmarks carries this DHT id (they are read-only, BEP 43).
const std::string& load_id() {
    static const std::string id = [] {
        auto rng = random_source::from_os();
        return dht::node_id::random(rng).to_bytes();
    }();
    return id;
}

bytes encode_query(const std::string& tid, const char* method, bencode::dict args) {
    args.emplace("id", load_id());
    auto q = krpc::message::query(tid, method, std::move(args));
    q.read_only = true;
    return krpc::encode(q);
}

struct fill_result {
    std::uint64_t registered = 0, lost = 0, invalid = 0;
    std::map<std::string, std::uint64_t> errors;
    double seconds = 0;
    std::optional<dht::node_id> introducer;
};

// Registers every peer (two queries each: the IP-bound token, then the signed
// registration), peer i from socket first + i % count, with `window` queries outstanding;
// stops issuing after `deadline_s`. With `progress`, one JSON line per second. `tokens`,
// when given, keeps each peer's token; a peer with a known token refreshes its
// registration in one query, as a registered peer's keepalive does.
fill_result register_all(std::vector<std::unique_ptr<krpc_socket>>& sockets, socket_poller& poller,
                         const sockaddr_in& node, const std::vector<overlay::identity>& peers, std::size_t first,
                         std::size_t count, int window, double deadline_s, bool progress,
                         std::vector<std::string>* tokens = nullptr,
                         std::optional<dht::node_id> introducer = std::nullopt) {
    fill_result r;
    r.introducer = introducer;
    if (tokens) tokens->resize(peers.size());
    std::vector<window_slot> slots(static_cast<std::size_t>(std::clamp(window, 1, 65535)));
    std::size_t next_peer = 0;
    const auto start = clock_type::now();
    const auto deadline = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(deadline_s));
    auto send = [&](std::uint32_t i, bencode::dict args) {
        auto& s = slots[i];
        s.busy = true;
        s.sent = clock_type::now();
        sockets[s.socket]->send_raw(encode_query(slot_tid(i + 1, ++s.generation), "ovl_register", std::move(args)));
    };
    auto start_peer = [&](std::uint32_t i, std::uint32_t peer) {
        auto& s = slots[i];
        s.peer = peer;
        s.socket = static_cast<std::uint32_t>(first + peer % count);
        if (tokens && r.introducer && !(*tokens)[peer].empty()) {
            s.phase = 1;
            send(i, signed_register_args(peers[peer], *r.introducer, (*tokens)[peer]));
            return;
        }
        s.phase = 0;
        send(i, {{"k", key_bytes(peers[peer])}});
    };
    auto next = [&](std::uint32_t i) {
        slots[i].busy = false;
        if (next_peer < peers.size() && clock_type::now() < deadline)
            start_peer(i, static_cast<std::uint32_t>(next_peer++));
    };
    auto on = [&](std::uint32_t index, std::span<const std::uint8_t> data, const sockaddr_in& from) {
        auto decoded = krpc::decode(data);
        auto* m = std::get_if<krpc::message>(&decoded);
        if (!m || m->kind == krpc::message_kind::query) return;
        std::uint32_t slot = 0;
        std::uint16_t generation = 0;
        if (!read_slot_tid(m->transaction_id, slot, generation) || slot == 0 || slot > slots.size()) {
            ++r.invalid;
            return;
        }
        auto& s = slots[slot - 1];
        if (!s.busy || s.generation != generation || s.socket != index || !same_endpoint(from, node)) {
            ++r.invalid;
            return;
        }
        if (m->kind == krpc::message_kind::error) {
            ++r.errors[m->error_message];
            next(slot - 1);
            return;
        }
        if (s.phase == 0) {
            const auto* token = bencode::find_string(m->body, "tok");
            const auto* id = bencode::find_string(m->body, "id");
            if (!token || !id || id->size() != dht::node_id::size) {
                ++r.invalid;
                next(slot - 1);
                return;
            }
            if (!r.introducer) r.introducer = dht::node_id::from_bytes(*id);
            if (tokens) (*tokens)[s.peer] = *token;
            s.phase = 1;
            send(slot - 1, signed_register_args(peers[s.peer], *r.introducer, *token));
            return;
        }
        if (bencode::find_int(m->body, "ttl")) {
            ++r.registered;
        } else if (bencode::find_string(m->body, "tok")) {
            ++r.errors["token refused"];
            if (tokens) (*tokens)[s.peer].clear();
        } else {
            ++r.invalid;
        }
        next(slot - 1);
    };
    // Open the window gradually, so a burst does not overflow the node's receive buffer.
    for (std::uint32_t i = 0; i < slots.size(); ++i) {
        next(i);
        if (i % 16 == 15) poller.poll(0, on);
    }
    auto next_check = start + std::chrono::milliseconds(100);
    auto next_report = start + std::chrono::seconds(1);
    while (std::any_of(slots.begin(), slots.end(), [](const window_slot& s) { return s.busy; })) {
        poller.poll(0, on);
        const auto now = clock_type::now();
        if (now >= next_check) {
            next_check = now + std::chrono::milliseconds(100);
            for (std::uint32_t i = 0; i < slots.size(); ++i) {
                if (!slots[i].busy || now - slots[i].sent < reply_timeout) continue;
                ++r.lost;
                // Start the peer over: a fresh token, a fresh signature.
                if (tokens) (*tokens)[slots[i].peer].clear();
                if (now < deadline) start_peer(i, slots[i].peer);
                else slots[i].busy = false;
            }
        }
        if (progress && now >= next_report) {
            next_report += std::chrono::seconds(1);
            std::printf("%s\n", json{{"t", std::chrono::duration<double>(now - start).count()}, {"registered", r.registered}}
                                    .dump()
                                    .c_str());
            std::fflush(stdout);
        }
    }
    r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    return r;
}

std::vector<overlay::identity> generate_identities(random_source& rng, std::size_t n) {
    std::vector<overlay::identity> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(overlay::identity::generate(rng));
    return out;
}

// fill: N fresh keys register over all sockets; after generating the keys it prints a
// "ready" line and, with `wait_go`, waits for a line on stdin, so the caller can read the
// node's memory just before the first registration.
// With `refresh`, every registered peer then refreshes once (one signed query with its
// token, as keepalives do) and the node's CPU time for that (of `pid`) is reported.
int run_fill(std::vector<std::unique_ptr<krpc_socket>>& sockets, const sockaddr_in& node, random_source& rng,
             std::size_t n, int window, double deadline_s, bool wait_go, bool refresh, int pid) {
    const auto t0 = clock_type::now();
    const auto peers = generate_identities(rng, n);
    std::printf("%s\n", json{{"mode", "fill"}, {"ready", true}, {"keys", n},
                             {"keygen_s", std::chrono::duration<double>(clock_type::now() - t0).count()}}
                            .dump()
                            .c_str());
    std::fflush(stdout);
    if (wait_go) {
        char line[64];
        if (!std::fgets(line, sizeof line, stdin)) return 1;
    }
    socket_poller poller(sockets);
    const double own0 = process_cpu_seconds(static_cast<int>(::getpid()));
    std::vector<std::string> tokens;
    const auto r = register_all(sockets, poller, node, peers, 0, sockets.size(), window, deadline_s, true,
                                refresh ? &tokens : nullptr);
    const double own = process_cpu_seconds(static_cast<int>(::getpid())) - own0;
    std::printf("%s\n", json{{"mode", "fill"}, {"done", true}, {"registered", r.registered}, {"seconds", r.seconds},
                             {"per_second", static_cast<double>(r.registered) / r.seconds}, {"load_cpu_s", own}, {"lost", r.lost},
                             {"invalid", r.invalid}, {"errors", r.errors}, {"sources", sockets.size()}}
                            .dump()
                            .c_str());
    std::fflush(stdout);
    if (!refresh || !r.introducer) return 0;
    // Only the peers that hold a token (all registered ones): the rest are not refreshed.
    std::vector<overlay::identity> registered;
    std::vector<std::string> registered_tokens;
    for (std::size_t i = 0; i < peers.size(); ++i)
        if (!tokens[i].empty()) registered.push_back(peers[i]), registered_tokens.push_back(tokens[i]);
    const double node0 = pid > 0 ? process_cpu_seconds(pid) : 0;
    const auto again = register_all(sockets, poller, node, registered, 0, sockets.size(), window, deadline_s, false,
                                    &registered_tokens, r.introducer);
    const double node_cpu = pid > 0 ? process_cpu_seconds(pid) - node0 : 0;
    std::printf("%s\n", json{{"mode", "refresh"}, {"refreshed", again.registered}, {"seconds", again.seconds},
                             {"node_cpu_s", node_cpu},
                             {"per_core", node_cpu > 0 ? static_cast<double>(again.registered) / node_cpu : 0.0},
                             {"lost", again.lost}, {"invalid", again.invalid}, {"errors", again.errors}}
                            .dump()
                            .c_str());
    std::fflush(stdout);
    return 0;
}

// introduce-load: the last `targets` sockets register one target each (their sockets then
// receive the introducer's notices); every other socket is a requester with its own key
// and IP-bound token and one pre-encoded ovl_introduce (its transaction id patched per
// query) to a target on another socket. Closed loop with `window` queries outstanding;
// the figure is introductions per second of the node's CPU time (utime + stime of `pid`).
int run_introduce_load(std::vector<std::unique_ptr<krpc_socket>>& sockets, const sockaddr_in& node, random_source& rng,
                       int pid, std::size_t targets, int window, double warmup, double seconds) {
    if (targets == 0 || targets >= sockets.size()) throw std::runtime_error("need more sockets than --targets");
    const auto requesters = sockets.size() - targets;
    socket_poller poller(sockets);
    const auto target_ids = generate_identities(rng, targets);
    const auto reg = register_all(sockets, poller, node, target_ids, requesters, targets, window, 30, false);
    if (reg.registered != targets)
        throw std::runtime_error(fmt::format("only {} of {} targets registered ({})", reg.registered, targets,
                                             json(reg.errors).dump()));
    const std::string sid = "benchsid";
    struct query_template {
        bytes wire;
        std::size_t tid_at = 0;
    };
    std::vector<query_template> templates;
    const std::string placeholder = "\x01\x02\x03\x04";
    for (std::size_t i = 0; i < requesters; ++i) {
        const auto requester = overlay::identity::generate(rng);
        const auto target = key_bytes(target_ids[(i * 7 + 1) % targets]);
        bencode::dict args{{"k", key_bytes(requester)}, {"t", target}, {"sid", sid}};
        const auto first = sockets[i]->call("ovl_introduce", args);
        const auto* token = bencode::find_string(first.body, "tok");
        if (!token) throw std::runtime_error("no token for a requester: " + outcome(first));
        args.emplace("tok", *token);
        query_template t{encode_query(placeholder, "ovl_introduce", std::move(args)), 0};
        const std::string marker = "1:t4:" + placeholder;
        const auto at = std::search(t.wire.begin(), t.wire.end(), marker.begin(), marker.end());
        if (at == t.wire.end()) throw std::runtime_error("cannot find the transaction id in a query");
        t.tid_at = static_cast<std::size_t>(at - t.wire.begin()) + 5;
        templates.push_back(std::move(t));
    }

    std::printf("%s\n", json{{"mode", "introduce-load"}, {"ready", true}}.dump().c_str());
    std::fflush(stdout);

    std::vector<window_slot> slots(static_cast<std::size_t>(std::clamp(window, 1, 65535)));
    std::uint64_t ok = 0, invalid = 0, lost = 0, notices = 0, stray = 0;
    std::map<std::string, std::uint64_t> errors;
    std::uint32_t next_source = 0;
    bool draining = false;
    auto issue = [&](std::uint32_t i) {
        auto& s = slots[i];
        s.socket = next_source;
        next_source = static_cast<std::uint32_t>((next_source + 1) % requesters);
        s.busy = true;
        s.sent = clock_type::now();
        auto& t = templates[s.socket];
        const auto tid = slot_tid(i + 1, ++s.generation);
        std::copy(tid.begin(), tid.end(), t.wire.begin() + static_cast<std::ptrdiff_t>(t.tid_at));
        sockets[s.socket]->send_raw(t.wire);
    };
    const std::string_view notice_method = "16:ovl_introduction";
    auto on = [&](std::uint32_t index, std::span<const std::uint8_t> data, const sockaddr_in& from) {
        if (index >= requesters) {
            // A target's socket: the introducer's notice (a query naming the requester).
            const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
            if (same_endpoint(from, node) && text.find(notice_method) != std::string_view::npos) ++notices;
            else ++stray;
            return;
        }
        auto decoded = krpc::decode(data);
        auto* m = std::get_if<krpc::message>(&decoded);
        std::uint32_t slot = 0;
        std::uint16_t generation = 0;
        if (!m || m->kind == krpc::message_kind::query || !read_slot_tid(m->transaction_id, slot, generation) ||
            slot == 0 || slot > slots.size()) {
            ++invalid;
            return;
        }
        auto& s = slots[slot - 1];
        if (!s.busy || s.generation != generation || s.socket != index || !same_endpoint(from, node)) {
            ++invalid;
            return;
        }
        s.busy = false;
        if (m->kind == krpc::message_kind::error) {
            ++errors[m->error_message];
        } else {
            const auto* ep = bencode::find_string(m->body, "ep");
            const auto* got_sid = bencode::find_string(m->body, "sid");
            if (ep && ep->size() == 6 && got_sid && *got_sid == sid && bencode::find_string(m->body, "nat")) ++ok;
            else ++invalid;
        }
        if (!draining) issue(slot - 1);
    };
    auto run_for = [&](double s) {
        const auto end = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
        auto next_check = clock_type::now() + std::chrono::milliseconds(100);
        for (auto now = clock_type::now(); now < end; now = clock_type::now()) {
            poller.poll(0, on);
            if (now < next_check) continue;
            next_check = now + std::chrono::milliseconds(100);
            for (std::uint32_t i = 0; i < slots.size(); ++i) {
                if (!slots[i].busy || now - slots[i].sent < reply_timeout) continue;
                ++lost;
                slots[i].busy = false;
                if (!draining) issue(i);
            }
        }
    };
    // Open the window gradually, so a burst does not overflow the node's receive buffer.
    for (std::uint32_t i = 0; i < slots.size(); ++i) {
        issue(i);
        if (i % 16 == 15) poller.poll(0, on);
    }
    run_for(warmup);
    ok = invalid = lost = notices = stray = 0;
    errors.clear();
    const double cpu0 = process_cpu_seconds(pid), own0 = process_cpu_seconds(static_cast<int>(::getpid()));
    const auto t0 = clock_type::now();
    run_for(seconds);
    const double wall = std::chrono::duration<double>(clock_type::now() - t0).count();
    const double cpu = process_cpu_seconds(pid) - cpu0;
    const double own = process_cpu_seconds(static_cast<int>(::getpid())) - own0;
    const auto measured_ok = ok, measured_notices = notices;
    draining = true;
    run_for(0.3);
    std::printf("%s\n", json{{"mode", "introduce-load"},
                             {"introductions", measured_ok},
                             {"wall_s", wall},
                             {"node_cpu_s", cpu},
                             {"load_cpu_s", own},
                             {"per_core", cpu > 0 ? static_cast<double>(measured_ok) / cpu : 0.0},
                             {"per_wall_s", static_cast<double>(measured_ok) / wall},
                             {"notices", measured_notices},
                             {"errors", errors},
                             {"invalid", invalid},
                             {"lost", lost},
                             {"stray", stray},
                             {"requesters", requesters},
                             {"targets", targets},
                             {"window", slots.size()}}
                            .dump()
                            .c_str());
    std::fflush(stdout);
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
    int bind_count = 0;
    app.add_option("--bind-count", bind_count,
                   "send from this many consecutive addresses from the first --bind one (benchmarks)");
    int cpu = -1;
    app.add_option("--cpu", cpu, "pin this process to one CPU");
    std::size_t fill_count = 0;
    int window = 256;
    double deadline = 50;
    bool wait_go = false;
    auto* fill = app.add_subcommand("fill", "benchmark: N fresh keys register, closed loop over all sources");
    fill->add_option("N", fill_count)->required();
    fill->add_option("--window", window, "queries outstanding")->check(CLI::Range(1, 65535));
    fill->add_option("--deadline", deadline, "stop issuing registrations after this many seconds");
    fill->add_flag("--wait-go", wait_go, "after generating the keys, wait for a line on stdin");
    bool refresh = false;
    fill->add_flag("--refresh", refresh, "then refresh every registration once (one signed query each)");
    int pid = 0;
    fill->add_option("--pid", pid, "the node's process id, for its CPU time during the refresh");
    std::size_t targets = 1024;
    double warmup = 1;
    double load_seconds = 5;
    auto* intro_load = app.add_subcommand("introduce-load",
                                          "benchmark: introductions per second of the node's CPU, closed loop");
    intro_load->add_option("--pid", pid, "the node's process id (its CPU time is read from /proc)")->required();
    intro_load->add_option("--targets", targets, "sockets (the last ones) that register a target each");
    intro_load->add_option("--window", window, "queries outstanding")->check(CLI::Range(1, 65535));
    intro_load->add_option("--warmup", warmup, "unmeasured seconds first");
    intro_load->add_option("--seconds", load_seconds, "measured seconds")->check(CLI::PositiveNumber);
    app.require_subcommand(1);
    CLI11_PARSE(app, argc, argv);

    try {
        const auto colon = node.rfind(':');
        if (colon == std::string::npos) throw std::runtime_error("--node must be IPv4:PORT");
        const auto target = to_sockaddr(node.substr(0, colon), static_cast<std::uint16_t>(std::stoi(node.substr(colon + 1))));
        if (cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            if (::sched_setaffinity(0, sizeof set, &set) != 0) throw std::runtime_error("sched_setaffinity failed");
        }
        if (bind_count > 0) {
            bind_ips = address_range(bind_ips.front(), bind_count);
            rlimit files{};
            ::getrlimit(RLIMIT_NOFILE, &files);
            files.rlim_cur = std::max<rlim_t>(files.rlim_cur, std::min<rlim_t>(files.rlim_max, bind_ips.size() + 64));
            ::setrlimit(RLIMIT_NOFILE, &files);
        }
        std::vector<std::unique_ptr<krpc_socket>> sockets;
        for (const auto& ip : bind_ips) sockets.push_back(std::make_unique<krpc_socket>(ip, target));
        auto rng = random_source::from_os();
        if (reg->parsed()) return run_register(*sockets.front(), rng, count);
        if (intro->parsed()) return run_introduce(*sockets.front(), rng, count, "ovl_introduce");
        if (relay->parsed()) return run_introduce(*sockets.front(), rng, count, "ovl_relay");
        if (announce->parsed()) return run_announce(*sockets.front(), rng, count);
        if (fill->parsed()) return run_fill(sockets, target, rng, fill_count, window, deadline, wait_go, refresh, pid);
        if (intro_load->parsed())
            return run_introduce_load(sockets, target, rng, pid, targets, window, warmup, load_seconds);
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
