// The client side of dial-back. Each round asks helpers for probes and counts those
// that arrive from endpoints we never wrote to. The verdict changes only when two
// rounds in a row agree (hysteresis), so one lost probe never flips a node between
// public and firewalled. Probes from IPs we never wrote to also tell whether our
// filtering lets strangers in (endpoint-independent) or only known IPs' other ports.
#pragma once

#include "dht/base/log.hpp"
#include "dht/node.hpp"
#include "overlay/nat_profile.hpp"

#include <functional>
#include <set>
#include <string>
#include <unordered_set>

namespace ovl::overlay {

class reachability_prober {
public:
    // `family`: which of our addresses the round tests; helpers come from that family's
    // routing table, so the probes they dispatch are aimed at that address.
    reachability_prober(dht::node& dht, std::size_t helpers, duration wait, duration interval, logger_ptr log,
                        ip_family family = ip_family::v4);

    // Starts a round now (if none is running), asking `helpers` (or, when empty, nodes
    // from the routing table). `contacted` lists IPs we have written to, so helpers
    // pick probers that are strangers to us.
    void start_round(timestamp now, const std::vector<endpoint>& helpers, const std::vector<ip_address>& contacted);
    // A dial-back datagram arrived from `from`; `known_ip` when we have written to that IP.
    void on_probe(timestamp now, const endpoint& from, std::string_view nonce, bool known_ip);
    void on_timeout(timestamp now);
    std::optional<timestamp> next_deadline() const;
    // Runs when a round ends (e.g. to start joining the DHT after the first one).
    void on_round_end(std::function<void(timestamp)> f) { round_end_ = std::move(f); }

    reachability verdict() const { return verdict_; }
    // Whether probes from IPs we never wrote to reached us (endpoint-independent filtering).
    bool open_to_strangers() const { return open_to_strangers_; }
    // When the current verdict was first reached (for "reachable for a while").
    timestamp verdict_since() const { return since_; }
    int last_requests() const { return last_requests_; }
    int last_probes() const { return last_probes_; }
    int rounds() const { return rounds_; }

private:
    void finish_round(timestamp now);

    dht::node& dht_;
    ip_family family_;
    std::size_t helpers_;
    duration wait_;
    duration interval_;
    logger_ptr log_;
    std::function<void(timestamp)> round_end_;

    bool running_ = false;
    timestamp round_ends_{};
    timestamp next_round_{timestamp::max()};
    std::unordered_set<std::string> nonces_;
    std::set<ip_address> probers_;
    std::set<ip_address> stranger_probers_;
    int dispatched_ = 0;
    int accepted_ = 0;

    reachability verdict_ = reachability::unknown;
    reachability pending_ = reachability::unknown;
    bool open_to_strangers_ = false;
    timestamp since_{};
    int last_requests_ = 0;
    int last_probes_ = 0;
    int rounds_ = 0;
};

} // namespace ovl::overlay
