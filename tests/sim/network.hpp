// The simulated internet: hosts, NATs and firewalls in address realms, links, a virtual
// clock and one event queue. IPv4, and IPv6 beside it on dual-stack hosts. It drives sans-I/O cores (ovl::datagram_core) bound to UDP
// ports and a minimal TCP at the NAT level. Deterministic: one seed, no wall clock, no
// threads; simultaneous events run in the order they were scheduled.
#pragma once

#include "sim/address_table.hpp"
#include "sim/event_queue.hpp"
#include "sim/flat_map.hpp"
#include "sim/ids.hpp"
#include "sim/link.hpp"
#include "sim/nat.hpp"
#include "sim/packet.hpp"
#include "sim/statistics.hpp"
#include "sim/tcp_connection.hpp"
#include "sim/udp_binding.hpp"

#include "dht/base/datagram.hpp"
#include "dht/base/endpoint.hpp"
#include "dht/base/random.hpp"
#include "dht/base/time.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ovl::sim {

class network {
public:
    // Virtual time starts here rather than at zero so that "no time" stays distinguishable.
    static constexpr timestamp epoch{std::chrono::seconds(1000)};

    explicit network(std::uint64_t seed);
    network(const network&) = delete;
    network& operator=(const network&) = delete;
    ~network();

    timestamp now() const { return now_; }
    random_source& random() { return rng_; }

    // --- topology ---------------------------------------------------------------------
    host_id add_public_host(ip_address address, const link_params& link = {});
    // A NAT or firewall whose outside address lives on the internet, or inside `parent`
    // (carrier-grade NAT in front of a home NAT).
    nat_id add_nat(const nat_config& config, ip_address outside, const link_params& link = {},
                   std::optional<nat_id> parent = std::nullopt);
    // A host inside a NAT (private address) or behind a firewall (its own public address).
    host_id add_private_host(nat_id inside, ip_address address, const link_params& link = {});

    ip_address address(host_id host) const;
    nat& nat_state(nat_id id);

    // --- IPv6 (no NAT: global addresses, stateful firewalls) ---------------------------
    // The NAT's device also forwards IPv6, untranslated, filtered as `firewall` says (its
    // filtering, timeouts and udp_blocked knobs); throws unless firewall.translate is false.
    void enable_ipv6(nat_id id, const nat_config& firewall);
    // Gives the host a global IPv6 address beside its IPv4 one, reachable from the internet
    // through every device in front of it; each must have IPv6 enabled (else throws).
    void add_ipv6(host_id host, ip_address address);
    std::optional<ip_address> address6(host_id host) const;
    // The IPv6 firewall enable_ipv6 gave the NAT's device.
    nat& ipv6_firewall_state(nat_id id);

    // --- UDP --------------------------------------------------------------------------
    // Throws std::invalid_argument if the port is taken on that host.
    udp_binding& bind_udp(host_id host, std::uint16_t port, datagram_core& core);
    void poke(udp_binding& binding);

    // --- TCP (handshake-level model, see tcp_connection.hpp) ---------------------------
    void tcp_listen(host_id host, std::uint16_t port, std::function<void(tcp_connection&)> on_accept);
    // Sends a SYN from (host, local_port); the port may also carry a listener (SO_REUSEADDR).
    tcp_connection& tcp_connect(host_id host, std::uint16_t local_port, const endpoint& remote);

    // --- running ----------------------------------------------------------------------
    // Runs one event; false when nothing is scheduled.
    bool step();
    void run_until(timestamp until);
    void run_for(duration d) { run_until(now_ + d); }
    // Runs until done() holds (true) or the next event lies past `limit` (false).
    template <class Predicate>
    bool run_until(Predicate&& done, timestamp limit) {
        if (done()) return true;
        while (!queue_.empty() && queue_.top().at <= limit) {
            step();
            if (done()) return true;
        }
        if (now_ < limit) now_ = limit;
        return false;
    }

    // --- churn, statistics, log -------------------------------------------------------
    // The host stops sending and receiving; its cores are never called again.
    void kill_host(host_id host);
    bool alive(host_id host) const;
    const statistics& stats() const { return stats_; }
    // One line per delivered or dropped packet and per timer: "<ns> <verdict> ...".
    void log_to(std::function<void(std::string_view)> sink) { log_ = std::move(sink); }
    void log_to(std::string& sink);

private:
    friend class tcp_connection;

    // A UDP port of a host: the binding whose core owns it, and which of the core's
    // sockets it is (0: its own; n >= 1: extra socket n, see outgoing_datagram::socket).
    // The core too, so that delivery need not wait for the binding to reach it; the
    // binding by address, so that servicing it costs no look-up in bindings_.
    struct bound_port {
        datagram_core* core = nullptr;
        udp_binding* binding = nullptr;
        std::uint16_t socket = 0;
    };
    // (host node, port) as one key of ports_.
    static std::uint64_t port_key(std::uint32_t node, std::uint16_t port) {
        return std::uint64_t{node} << 16 | port;
    }
    struct port_key_hash {
        std::uint64_t operator()(std::uint64_t key) const { return mix64(key); }
    };
    // What a hop reads about a host or NAT, in one cache line; addresses, bound ports and
    // liveness live apart (addresses_, ports_, alive_).
    struct alignas(64) node {
        std::uint32_t realm = 0;
        std::uint32_t inner_realm = 0;
        std::uint32_t nat_index = 0;
        bool is_nat = false;
        link access;
    };
    struct realm {
        std::optional<std::uint32_t> gateway;
        // The gateway's NAT index and outer realm, so that routing a packet out of the
        // realm need not load the gateway's node.
        std::uint32_t gateway_nat = 0;
        std::uint32_t gateway_realm = 0;
    };
    struct tcp_key {
        std::uint32_t host;
        std::uint16_t port;
        endpoint remote;
        friend bool operator==(const tcp_key&, const tcp_key&) = default;
    };
    struct tcp_key_hash {
        std::size_t operator()(const tcp_key& k) const noexcept;
    };

    std::uint32_t add_node(const node& n, ip_address address);
    const node& host_node(host_id host) const;
    // The host's address of `to`'s family; unspecified if it has none (no route).
    ip_address source_for(std::uint32_t host, const ip_address& to) const;
    // Builds the packet in a free slot, reusing its lines.
    std::uint32_t alloc_packet(protocol proto, std::uint8_t flags, const endpoint& src, const endpoint& dst,
                               bytes payload, std::uint8_t ttl);
    void release_packet(std::uint32_t slot) { free_packets_.push_back(slot); }
    void send(std::uint32_t from_node, protocol proto, std::uint8_t flags, const endpoint& src, const endpoint& dst,
              bytes payload, std::uint8_t ttl = packet::default_ttl);
    // `from_is_member`: the sender belongs to the realm, so the packet crosses its link.
    void forward(std::uint32_t realm_index, std::uint32_t from, bool from_is_member, std::uint32_t slot);
    void drop(std::uint32_t slot, drop_reason why);
    // Always inlined: called, a function that only prefetches is found free of side
    // effects, and GCC drops the call.
    [[gnu::always_inline]] inline void prefetch_upcoming() const;
    void arrive(std::uint32_t slot);
    void arrive_at_nat(std::uint32_t n, std::uint32_t slot);
    void arrive_at_host(std::uint32_t n, std::uint32_t slot);
    void deliver_udp(std::uint32_t n, std::uint32_t slot);
    // A queued timer event: the binding, and its timer generation when it was queued.
    struct timer {
        std::uint32_t binding = 0;
        std::uint32_t generation = 0;
    };
    // Marks an event's ref as a slot of timers_ rather than of packets_.
    static constexpr std::uint32_t timer_bit = 1u << 31;
    std::uint32_t alloc_timer(timer t);
    void fire_timer(std::uint32_t slot);
    void service(udp_binding& b);
    std::uint16_t extra_port(udp_binding& b, std::uint16_t socket);
    void log_packet(std::string_view verdict, const packet& p);

    // tcp.cpp
    void deliver_tcp(std::uint32_t n, std::uint32_t slot);
    void send_segment(std::uint32_t host_node, std::uint16_t port, const endpoint& remote,
                      std::uint8_t flags, bytes payload);

    timestamp now_ = epoch;
    random_source rng_;
    event_queue queue_;
    statistics stats_;
    std::function<void(std::string_view)> log_;

    std::vector<node> nodes_;
    // Beside nodes_: false once kill_host took the node. Dense (a bit per node), so the
    // checks on every delivery and send stay in cache.
    std::vector<bool> alive_;
    std::vector<ip_address> addresses_;
    // Every bound UDP port of every host, looked up once per delivered datagram.
    flat_map<std::uint64_t, bound_port, port_key_hash> ports_;
    std::vector<realm> realms_;
    // Which node owns each address of each realm.
    address_table members_;
    std::vector<nat> nats_;
    // Beside nats_, same index: the device's IPv6 firewall, if it forwards IPv6.
    std::vector<std::optional<nat>> firewalls6_;
    std::vector<std::uint32_t> nat_nodes_;
    // Host node → its IPv6 address (few hosts have one; looked up only for IPv6 sends).
    std::unordered_map<std::uint32_t, ip_address> addresses6_;
    std::vector<std::unique_ptr<udp_binding>> bindings_;
    std::vector<packet> packets_;
    std::vector<std::uint32_t> free_packets_;
    std::vector<timer> timers_;
    std::vector<std::uint32_t> free_timers_;

    std::vector<std::unique_ptr<tcp_connection>> tcp_connections_;
    std::unordered_map<tcp_key, tcp_connection*, tcp_key_hash> tcp_by_tuple_;
    std::unordered_map<std::uint64_t, std::function<void(tcp_connection&)>> tcp_listeners_;
};

inline void udp_binding::poke() { net_->poke(*this); }

inline std::optional<endpoint> udp_binding::local6() const {
    const auto address = net_->address6(host_);
    if (!address) return std::nullopt;
    return endpoint{*address, local_.port};
}

} // namespace ovl::sim
