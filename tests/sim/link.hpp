// A host's or NAT's access link: one-way latency, jitter, loss and an optional bandwidth
// cap, the same in both directions but queued separately per direction.
#pragma once

#include "dht/base/random.hpp"
#include "dht/base/time.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace ovl::sim {

struct link_params {
    duration latency = std::chrono::milliseconds(10);
    // Extra delay drawn uniformly from [0, jitter) per packet; it can reorder packets.
    duration jitter{};
    // Probability that one traversal of this link loses the packet.
    double loss = 0.0;
    // Bytes per second; packets queue behind each other when set.
    std::optional<std::uint64_t> bandwidth;
};

// Shorthand, since designated initializers that skip members trip -Wextra.
inline link_params make_link(duration latency, duration jitter = {}, double loss = 0.0,
                             std::optional<std::uint64_t> bandwidth = std::nullopt) {
    return link_params{latency, jitter, loss, bandwidth};
}

// Stored compactly (48 bytes) because a hop reads the links of both ends; a bandwidth of 0
// means no cap.
class link {
public:
    enum class direction { up, down };

    link() = default;
    explicit link(const link_params& params)
        : latency_(params.latency), jitter_(params.jitter), loss_(params.loss),
          bandwidth_(params.bandwidth.value_or(0)) {}

    // When a packet of `size` bytes entering at `t` leaves the far end, or nullopt when lost.
    std::optional<timestamp> traverse(timestamp t, std::size_t size, direction dir,
                                      random_source& rng) {
        if (loss_ > 0 && rng.unit() < loss_) return std::nullopt;
        if (bandwidth_ != 0) {
            timestamp& busy = dir == direction::up ? busy_up_ : busy_down_;
            if (busy > t) t = busy;
            t += duration(static_cast<duration::rep>(size * 1'000'000'000ULL / bandwidth_));
            busy = t;
        }
        t += latency_;
        if (jitter_.count() > 0)
            t += duration(static_cast<duration::rep>(rng.uniform(static_cast<std::uint64_t>(jitter_.count()))));
        return t;
    }

private:
    duration latency_ = link_params{}.latency;
    duration jitter_{};
    double loss_ = 0.0;
    std::uint64_t bandwidth_ = 0;
    timestamp busy_up_{};
    timestamp busy_down_{};
};

} // namespace ovl::sim
