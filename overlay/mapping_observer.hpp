// Classifies our NAT's mapping behaviour from the addresses other nodes report seeing
// us at (BEP 42 "ip" in every DHT reply). Only one sample per observer IP counts, so a
// single node cannot outvote the rest; the order in which observers were first seen
// approximates the order in which the NAT created the mappings, which is what reveals
// sequential port allocation.
#pragma once

#include "dht/base/endpoint.hpp"
#include "overlay/nat_profile.hpp"

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace ovl::overlay {

class mapping_observer {
public:
    // `local` is the socket's own address; its IP may be unspecified (0.0.0.0) when the
    // socket listens on every interface, in which case "no NAT" cannot be concluded.
    explicit mapping_observer(endpoint local, std::size_t max_observers = 32);

    void set_local(const endpoint& local) { local_ = local; }
    // `order` is when we first wrote to `observer` (any increasing counter): the NAT
    // created our mapping toward it then, which is the order sequential ports follow.
    void observe(const ip_address& observer, const endpoint& seen_as, std::uint64_t order);

    mapping_behaviour mapping() const;
    port_behaviour ports() const;
    int port_delta() const;
    // Observers whose report agrees with the verdict.
    int agreeing_samples() const;
    std::optional<endpoint> public_endpoint() const;
    std::vector<endpoint> distinct_observed() const;
    // The endpoint of our most recently created mapping that anyone reported.
    std::optional<endpoint> latest() const;
    // Where `observer` last reported seeing us.
    std::optional<endpoint> seen_by(const ip_address& observer) const;

private:
    struct sample {
        ip_address observer;
        endpoint seen_as;
        std::uint64_t order;
    };

    endpoint local_;
    std::size_t max_observers_;
    std::vector<sample> samples_;  // sorted by `order`
};

} // namespace ovl::overlay
