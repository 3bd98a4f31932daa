// A firewalled node's side of the introducer protocol: elect the k overlay introducers
// closest to our own DHT id (deterministic, so anyone can predict them and load spreads
// evenly), register with each, keep the registrations — and so our NAT mappings toward
// them — alive, and replace any introducer that dies or refuses.
#pragma once

#include "dht/base/log.hpp"
#include "dht/node.hpp"
#include "overlay/identity.hpp"

#include <deque>
#include <functional>
#include <set>
#include <vector>

namespace ovl::overlay {

class introducer_client {
public:
    struct settings {
        std::size_t wanted = 3;
        duration keepalive = std::chrono::seconds(20);
        std::vector<endpoint> lan;
        // The family registrations run over: IPv4 for a dual-stack peer (the NAT mapping the
        // keepalives hold open is the IPv4 one; the IPv6 endpoint travels as ep6), IPv6 for
        // an IPv6-only one. Introducers are elected among nodes of this family.
        ip_family family = ip_family::v4;
    };

    introducer_client(dht::node& dht, const identity& self, settings s, logger_ptr log);

    void start(timestamp now);
    void stop();
    void set_nat_label(std::string label) { nat_label_ = std::move(label); }
    // Sequential port allocation: the step, so requesters can predict our next mapping.
    void set_port_delta(int delta) { port_delta_ = delta; }
    // Our global IPv6 endpoint, told to introducers for requesters to punch toward.
    void set_ipv6_endpoint(std::optional<endpoint> ep) { ipv6_ = ep; }
    void on_timeout(timestamp now);
    std::optional<timestamp> next_deadline() const;

    std::vector<endpoint> introducers() const;
    bool is_introducer(const endpoint& ep) const;
    bool running() const { return running_; }
    std::uint64_t elections() const { return elections_; }

private:
    struct slot {
        dht::contact introducer;
        std::string token;
        bool active = false;
        bool in_flight = false;
        int misses = 0;
        timestamp next_refresh{};
    };

    void elect(timestamp now);
    void fill_slots(timestamp now);
    void send_register(timestamp now, std::size_t index);
    void on_register_outcome(timestamp now, dht::node_id introducer, const krpc::query_outcome& o);
    void drop(timestamp now, std::size_t index, const char* why);
    slot* find(const dht::node_id& id);
    std::size_t healthy_slots() const;
    std::size_t active_slots() const;
    void release_extra();

    dht::node& dht_;
    const identity& self_;
    settings settings_;
    logger_ptr log_;
    std::string nat_label_ = "unknown";
    int port_delta_ = 0;
    std::optional<endpoint> ipv6_;
    bool running_ = false;
    bool electing_ = false;
    std::vector<dht::contact> candidates_;  // closest first, from the last election
    // Introducers that refused or died since the last election retry.
    std::set<dht::node_id> avoid_;
    std::vector<slot> slots_;
    // CLI session (lab connect rows): introducers let go by release_extra still hold our
    // registration until it expires and introduce peers to us; refusing those left both
    // sides waiting. Accepted as ours too (bounded, oldest forgotten first).
    static constexpr std::size_t max_released = 32;
    std::deque<endpoint> released_;
    timestamp next_election_{timestamp::max()};
    std::uint64_t elections_ = 0;
};

} // namespace ovl::overlay
