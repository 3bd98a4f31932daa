// krpc_load: a closed-loop KRPC load generator for one DHT node on this machine. It sends
// from many source addresses on 127.0.0.0/8 (used in turn: 4096 of them keep every address
// under a per-IP limit of 100 queries/s up to ~400,000 queries/s), keeps a fixed window of
// queries outstanding, fully validates every reply and matches it by transaction id, and
// divides the replies by the CPU time the target process used (utime+stime from
// /proc/<pid>/stat): queries per fully used core of the target.
//
// All sources share one socket bound to the wildcard address: each query names its source
// address with IP_PKTINFO, each reply's IP_PKTINFO says which source it was for, and both
// directions go in batches (sendmmsg, recvmmsg). With a socket per source the generator
// paid three system calls per query and, on the other core, could not keep the target busy.
//
// Before measuring it makes the target learn its sources: every source pings the target
// and answers the target's own queries (ping, find_node, get_peers), until find_node
// replies carry 8 nodes; it also prints its first 64 sources ("sources IP:PORT ...") for
// targets that must be told of nodes. Then it measures each requested cell and prints
// one line each:
//
//   krpc_load --target 127.0.0.1:6881 --pid 1234 --cells ping,find_node,get_peers,mix
//             [--seconds 5] [--warmup 1] [--sources 4096] [--window 128] [--cpu 0]
#include <libtorrent/bdecode.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

enum kind : std::uint8_t { ping, find_node, get_peers, mix };
constexpr const char* kind_names[] = {"ping", "find_node", "get_peers", "mix"};
constexpr std::size_t nodes_expected = 8;
constexpr std::size_t compact_node = 26;
constexpr auto reply_timeout = std::chrono::seconds(1);

struct options {
    sockaddr_in target{};
    int pid = 0;
    std::vector<kind> cells;
    double seconds = 5;
    double warmup = 1;
    int sources = 4096;
    int window = 128;
    int cpu = -1;
    double seed_timeout = 30;
};

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "krpc_load: %s\n", what.c_str());
    std::exit(2);
}

sockaddr_in parse_endpoint(const std::string& s) {
    auto colon = s.rfind(':');
    sockaddr_in a{};
    a.sin_family = AF_INET;
    if (colon == std::string::npos || inet_pton(AF_INET, s.substr(0, colon).c_str(), &a.sin_addr) != 1)
        fail("bad endpoint " + s);
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(s.substr(colon + 1))));
    return a;
}

options parse(int argc, char** argv) {
    options o;
    bool have_target = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--target") o.target = parse_endpoint(v), have_target = true;
        else if (k == "--pid") o.pid = std::stoi(v);
        else if (k == "--seconds") o.seconds = std::stod(v);
        else if (k == "--warmup") o.warmup = std::stod(v);
        else if (k == "--sources") o.sources = std::stoi(v);
        else if (k == "--window") o.window = std::stoi(v);
        else if (k == "--cpu") o.cpu = std::stoi(v);
        else if (k == "--seed-timeout") o.seed_timeout = std::stod(v);
        else if (k == "--cells") {
            std::stringstream ss(v);
            for (std::string c; std::getline(ss, c, ',');) {
                bool found = false;
                for (int j = 0; j < 4; ++j)
                    if (c == kind_names[j]) o.cells.push_back(static_cast<kind>(j)), found = true;
                if (!found) fail("unknown cell " + c);
            }
        } else fail("unknown option " + k);
    }
    if (!have_target || o.pid <= 0) fail("usage: krpc_load --target IP:PORT --pid PID [--cells ping,find_node,get_peers,mix]");
    if (o.cells.empty()) o.cells = {ping, find_node, get_peers, mix};
    if (o.window < 1 || o.window > 65535 || o.sources < 9 || o.sources > 60000) fail("bad --window or --sources");
    return o;
}

// utime + stime of the whole process (all threads), in seconds.
double process_cpu_seconds(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto paren = all.rfind(')');
    if (paren == std::string::npos) fail("target process " + std::to_string(pid) + " is gone");
    std::istringstream rest(all.substr(paren + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    // Fields after the command name start at 3 (state); utime and stime are 14 and 15.
    for (int n = 3; n <= 15 && rest >> field; ++n) {
        if (n == 14) utime = std::stoull(field);
        if (n == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct rng {
    std::uint64_t s = 0x9e3779b97f4a7c15ull;
    std::uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    void fill(char* p, std::size_t n) {
        for (std::size_t i = 0; i < n; i += 8) {
            auto v = next();
            std::memcpy(p + i, &v, std::min<std::size_t>(8, n - i));
        }
    }
};

struct source {
    sockaddr_in addr{};
    std::array<char, 20> id{};
};

struct slot {
    std::uint32_t source = 0;
    std::uint16_t generation = 0;
    kind k = ping;
    bool busy = false;
    clock_type::time_point sent;
};

struct counters {
    std::uint64_t ok[3] = {};
    std::uint64_t errors = 0, invalid = 0, lost = 0, send_failed = 0, answered_target = 0, short_nodes = 0;
};

class generator {
public:
    explicit generator(const options& o) : o_(o), slots_(static_cast<std::size_t>(o.window)) {
        fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (fd_ < 0) fail("socket: " + std::string(std::strerror(errno)));
        const int on = 1;
        if (setsockopt(fd_, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0) fail("IP_PKTINFO");
        // Every reply of the window lands on this one socket; the default buffer is small.
        const int buffer = 8 << 20;
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
        setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer);
        sockaddr_in any{};
        any.sin_family = AF_INET;
        if (bind(fd_, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0)
            fail("bind: " + std::string(std::strerror(errno)));
        socklen_t len = sizeof any;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&any), &len);
        sources_.resize(static_cast<std::size_t>(o.sources));
        for (std::size_t i = 0; i < sources_.size(); ++i) {
            auto& s = sources_[i];
            s.addr.sin_family = AF_INET;
            // 127.1.0.1 onwards: clear of 127.0.0.x, where the targets listen.
            s.addr.sin_addr.s_addr = htonl(first_source + static_cast<std::uint32_t>(i));
            s.addr.sin_port = any.sin_port;
            rng_.fill(s.id.data(), s.id.size());
        }
    }

    // The first `n` sources, as "IP:PORT" words, for a target that must be told of nodes.
    std::string first_sources(std::size_t n) const {
        std::string out;
        for (std::size_t i = 0; i < std::min(n, sources_.size()); ++i) {
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &sources_[i].addr.sin_addr, ip, sizeof ip);
            out += " " + std::string(ip) + ":" + std::to_string(ntohs(sources_[i].addr.sin_port));
        }
        return out;
    }

    // Pings from every source, answers the target, and probes with find_node until
    // replies carry 8 nodes.
    void seed() {
        const auto deadline = clock_type::now() + std::chrono::duration<double>(o_.seed_timeout);
        auto next_ping_round = clock_type::now();
        int full_replies = 0;
        while (full_replies < 20) {
            const auto now = clock_type::now();
            if (now > deadline) fail("the target's routing table never reached 8 nodes per find_node reply");
            if (now >= next_ping_round) {
                // Paced, so that the target's receive buffer does not overflow.
                for (std::uint32_t i = 0; i < sources_.size(); ++i) {
                    send_query(i, ping, 0);
                    if (i % 64 == 63) poll(0);
                }
                next_ping_round = now + std::chrono::seconds(2);
            }
            for (std::uint32_t i = 0; i < 4; ++i) send_query(static_cast<std::uint32_t>(rng_.next() % sources_.size()), find_node, 0);
            const auto until = now + std::chrono::milliseconds(100);
            while (clock_type::now() < until) poll(10);
            full_replies += static_cast<int>(seed_full_);
            seed_full_ = 0;
        }
    }

    void measure(kind k) {
        cell_ = k;
        sequence_ = 0;
        for (auto& s : slots_) s.busy = false;
        // Open the window gradually: a burst of all of it at once can overflow the
        // target's socket receive buffer, and every lost query stalls a slot for a second.
        for (std::uint32_t i = 0; i < slots_.size(); ++i) {
            issue(i);
            if (i % 16 == 15) poll(0);
        }
        run_for(o_.warmup);
        c_ = {};
        const double cpu0 = process_cpu_seconds(o_.pid);
        const auto t0 = clock_type::now();
        run_for(o_.seconds);
        const double wall = std::chrono::duration<double>(clock_type::now() - t0).count();
        const double cpu = process_cpu_seconds(o_.pid) - cpu0;
        // Let the window drain so the next cell starts clean.
        draining_ = true;
        run_for(0.3);
        draining_ = false;
        const auto done = c_.ok[0] + c_.ok[1] + c_.ok[2];
        std::printf("cell=%s replies=%llu wall_s=%.3f target_cpu_s=%.3f per_core=%.0f per_wall_s=%.0f "
                    "ping=%llu find_node=%llu get_peers=%llu errors=%llu invalid=%llu short_nodes=%llu lost=%llu "
                    "send_failed=%llu target_queries_answered=%llu\n",
                    kind_names[k], static_cast<unsigned long long>(done), wall, cpu,
                    cpu > 0 ? static_cast<double>(done) / cpu : 0.0, static_cast<double>(done) / wall,
                    static_cast<unsigned long long>(c_.ok[0]), static_cast<unsigned long long>(c_.ok[1]),
                    static_cast<unsigned long long>(c_.ok[2]), static_cast<unsigned long long>(c_.errors),
                    static_cast<unsigned long long>(c_.invalid), static_cast<unsigned long long>(c_.short_nodes),
                    static_cast<unsigned long long>(c_.lost), static_cast<unsigned long long>(c_.send_failed),
                    static_cast<unsigned long long>(c_.answered_target));
        std::fflush(stdout);
    }

private:
    void run_for(double seconds) {
        const auto end = clock_type::now() + std::chrono::duration<double>(seconds);
        auto next_check = clock_type::now() + std::chrono::milliseconds(100);
        while (true) {
            const auto now = clock_type::now();
            if (now >= end) break;
            poll(5);
            if (now >= next_check) {
                next_check = now + std::chrono::milliseconds(100);
                expire(now);
            }
        }
    }

    void expire(clock_type::time_point now) {
        for (std::uint32_t i = 0; i < slots_.size(); ++i) {
            if (!slots_[i].busy || now - slots_[i].sent < reply_timeout) continue;
            ++c_.lost;
            slots_[i].busy = false;
            if (!draining_) issue(i);
        }
    }

    // Sends the next query of the current cell from the next source, in slot `i`.
    void issue(std::uint32_t i) {
        const auto k = cell_ == mix ? static_cast<kind>(sequence_ % 3) : cell_;
        ++sequence_;
        next_source_ = (next_source_ + 1) % static_cast<std::uint32_t>(sources_.size());
        send_query(next_source_, k, i + 1);
    }

    // Slot 0 is for seeding queries, which are not part of the window.
    void send_query(std::uint32_t src, kind k, std::uint32_t slot_plus_one) {
        std::uint16_t generation = 0;
        if (slot_plus_one) {
            auto& s = slots_[slot_plus_one - 1];
            s.source = src;
            s.k = k;
            s.busy = true;
            s.sent = clock_type::now();
            generation = ++s.generation;
        }
        char tid[4] = {static_cast<char>(slot_plus_one >> 8), static_cast<char>(slot_plus_one),
                       static_cast<char>(generation >> 8), static_cast<char>(generation)};
        char target[20];
        rng_.fill(target, sizeof target);
        std::string q = "d1:ad2:id20:";
        q.append(sources_[src].id.data(), 20);
        if (k == find_node) q += "6:target20:", q.append(target, 20);
        if (k == get_peers) q += "9:info_hash20:", q.append(target, 20);
        q += "e1:q";
        q += k == ping ? "4:ping" : k == find_node ? "9:find_node" : "9:get_peers";
        q += "1:t4:";
        q.append(tid, 4);
        q += "1:y1:qe";
        send_from(src, q, o_.target);
    }

    // Queues a datagram from source `src`; sent at the next flush, or now if the batch is full.
    void send_from(std::uint32_t src, std::string_view data, const sockaddr_in& to) {
        auto& out = outgoing_[pending_];
        // Queries and answers are built here and stay far below this; truncating one would
        // be counted as the target's error.
        if (data.size() > out.data.size()) fail("datagram of " + std::to_string(data.size()) + " bytes to send");
        ++pending_;
        out.size = data.size();
        std::memcpy(out.data.data(), data.data(), out.size);
        out.from = sources_[src].addr.sin_addr;
        out.to = to;
        if (pending_ == outgoing_.size()) flush();
    }

    void flush() {
        std::array<mmsghdr, batch> msgs{};
        std::array<iovec, batch> iov;
        std::array<std::array<char, CMSG_SPACE(sizeof(in_pktinfo))>, batch> control{};
        for (std::size_t j = 0; j < pending_; ++j) {
            auto& out = outgoing_[j];
            iov[j] = {out.data.data(), out.size};
            auto& h = msgs[j].msg_hdr;
            h.msg_name = &out.to;
            h.msg_namelen = sizeof out.to;
            h.msg_iov = &iov[j];
            h.msg_iovlen = 1;
            h.msg_control = control[j].data();
            h.msg_controllen = control[j].size();
            auto* c = CMSG_FIRSTHDR(&h);
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
            in_pktinfo info{};
            info.ipi_spec_dst = out.from;
            std::memcpy(CMSG_DATA(c), &info, sizeof info);
        }
        std::size_t sent = 0;
        while (sent < pending_) {
            const int n = sendmmsg(fd_, msgs.data() + sent, static_cast<unsigned>(pending_ - sent), 0);
            if (n <= 0) {
                // Counted and dropped; a lost query's slot is reissued after the reply timeout.
                c_.send_failed += pending_ - sent;
                break;
            }
            sent += static_cast<std::size_t>(n);
        }
        pending_ = 0;
    }

    void poll(int timeout_ms) {
        flush();
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return;
        std::array<mmsghdr, batch> msgs{};
        std::array<iovec, batch> iov;
        std::array<sockaddr_in, batch> from;
        std::array<std::array<char, CMSG_SPACE(sizeof(in_pktinfo))>, batch> control;
        // A few batches per wake-up, then the replies' follow-up queries go out.
        for (int round = 0; round < 4; ++round) {
            for (std::size_t j = 0; j < batch; ++j) {
                iov[j] = {buffers_[j].data(), buffers_[j].size()};
                msgs[j].msg_hdr = {};
                msgs[j].msg_hdr.msg_iov = &iov[j];
                msgs[j].msg_hdr.msg_iovlen = 1;
                msgs[j].msg_hdr.msg_name = &from[j];
                msgs[j].msg_hdr.msg_namelen = sizeof from[j];
                msgs[j].msg_hdr.msg_control = control[j].data();
                msgs[j].msg_hdr.msg_controllen = control[j].size();
            }
            const int got = recvmmsg(fd_, msgs.data(), batch, MSG_DONTWAIT, nullptr);
            for (int j = 0; j < got; ++j) {
                const auto src = source_of(msgs[j].msg_hdr);
                if (!src) {
                    ++c_.invalid;
                    continue;
                }
                on_datagram(*src, {buffers_[j].data(), msgs[j].msg_len}, from[j]);
            }
            if (got < static_cast<int>(batch)) break;
        }
        flush();
    }

    // The source a datagram was sent to, from its IP_PKTINFO destination address.
    std::optional<std::uint32_t> source_of(msghdr& h) const {
        for (auto* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
            if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_PKTINFO) continue;
            in_pktinfo info;
            std::memcpy(&info, CMSG_DATA(c), sizeof info);
            const auto index = ntohl(info.ipi_addr.s_addr) - first_source;
            if (index < sources_.size()) return index;
        }
        return std::nullopt;
    }

    void on_datagram(std::uint32_t src, std::string_view data, const sockaddr_in& from) {
        lt::error_code ec;
        auto root = lt::bdecode(data, ec);
        if (ec || root.type() != lt::bdecode_node::dict_t) {
            ++c_.invalid;
            return;
        }
        const auto y = root.dict_find_string_value("y");
        const auto lt_tid = root.dict_find_string_value("t");
        const std::string_view t(lt_tid.data(), lt_tid.size());
        if (y == "q") {
            answer_target(src, root, t, from);
            return;
        }
        if (t.size() != 4) {
            ++c_.invalid;
            return;
        }
        const auto slot_plus_one = static_cast<std::uint32_t>(static_cast<std::uint8_t>(t[0]) << 8 | static_cast<std::uint8_t>(t[1]));
        const auto generation = static_cast<std::uint16_t>(static_cast<std::uint8_t>(t[2]) << 8 | static_cast<std::uint8_t>(t[3]));
        if (slot_plus_one == 0) {
            // A seeding query: only find_node replies matter, to see the table fill.
            auto nodes = root.dict_find_dict("r").dict_find_string_value("nodes");
            if (nodes.size() == nodes_expected * compact_node) ++seed_full_;
            return;
        }
        if (slot_plus_one > slots_.size()) {
            ++c_.invalid;
            return;
        }
        auto& s = slots_[slot_plus_one - 1];
        // Late replies to a query we gave up on, or from another address than we asked from.
        if (!s.busy || s.generation != generation || s.source != src || from.sin_addr.s_addr != o_.target.sin_addr.s_addr ||
            from.sin_port != o_.target.sin_port) {
            ++c_.invalid;
            return;
        }
        s.busy = false;
        if (y == "e") {
            ++c_.errors;
        } else if (y != "r" || !valid_reply(root, s.k)) {
            ++c_.invalid;
        } else {
            ++c_.ok[s.k];
        }
        if (!draining_) issue(slot_plus_one - 1);
    }

    bool valid_reply(const lt::bdecode_node& root, kind k) {
        auto r = root.dict_find_dict("r");
        if (!r || r.dict_find_string_value("id").size() != 20) return false;
        if (k == ping) return true;
        auto nodes = r.dict_find_string("nodes");
        if (!nodes || nodes.string_length() % compact_node != 0) return false;
        if (static_cast<std::size_t>(nodes.string_length()) != nodes_expected * compact_node) ++c_.short_nodes;
        if (k == get_peers) {
            auto token = r.dict_find_string("token");
            if (!token || token.string_length() == 0) return false;
        }
        return true;
    }

    // The target's own queries (it pings us to verify us, and looks up nodes): answer
    // like a DHT node would, with 8 of our other sources as nodes.
    void answer_target(std::uint32_t src, const lt::bdecode_node& root, std::string_view tid, const sockaddr_in& to) {
        const auto method = root.dict_find_string_value("q");
        if (method != "ping" && method != "find_node" && method != "get_peers") return;
        std::string r = "d1:rd2:id20:";
        r.append(sources_[src].id.data(), 20);
        if (method != "ping") {
            r += "5:nodes" + std::to_string(nodes_expected * compact_node) + ":";
            for (std::size_t j = 1; j <= nodes_expected; ++j) {
                const auto& n = sources_[(src + j * 97) % sources_.size()];
                r.append(n.id.data(), 20);
                r.append(reinterpret_cast<const char*>(&n.addr.sin_addr.s_addr), 4);
                r.append(reinterpret_cast<const char*>(&n.addr.sin_port), 2);
            }
        }
        if (method == "get_peers") r += "5:token4:tokn";
        r += "e1:t" + std::to_string(tid.size()) + ":";
        r.append(tid);
        r += "1:y1:re";
        send_from(src, r, to);
        ++c_.answered_target;
    }

    static constexpr std::size_t batch = 64;
    static constexpr std::uint32_t first_source = 0x7F010001u;  // 127.1.0.1
    struct datagram {
        std::array<char, 512> data;
        std::size_t size = 0;
        in_addr from{};
        sockaddr_in to{};
    };

    options o_;
    int fd_ = -1;
    std::vector<source> sources_;
    std::vector<slot> slots_;
    std::array<std::array<char, 2048>, batch> buffers_{};
    std::array<datagram, batch> outgoing_{};
    std::size_t pending_ = 0;
    rng rng_;
    counters c_;
    kind cell_ = mix;
    std::uint64_t sequence_ = 0;
    std::uint32_t next_source_ = 0;
    std::size_t seed_full_ = 0;
    bool draining_ = false;
};

} // namespace

int main(int argc, char** argv) {
    const auto o = parse(argc, argv);
    if (o.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) fail("sched_setaffinity");
    }
    generator g(o);
    // dht_side_by_side passes these on to a target that learns nodes only by asking them.
    std::printf("sources%s\n", g.first_sources(64).c_str());
    std::fflush(stdout);
    const auto t0 = clock_type::now();
    g.seed();
    std::printf("seeded in %.1f s: find_node replies carry %zu nodes\n",
                std::chrono::duration<double>(clock_type::now() - t0).count(), nodes_expected);
    std::fflush(stdout);
    for (auto k : o.cells) g.measure(k);
    return 0;
}
