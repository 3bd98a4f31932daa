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

class link {
public:
    enum class direction { up, down };

    link() = default;
    explicit link(const link_params& params) : params_(params) {}

    // When a packet of `size` bytes entering at `t` leaves the far end, or nullopt when lost.
    std::optional<timestamp> traverse(timestamp t, std::size_t size, direction dir,
                                      random_source& rng) {
        if (params_.loss > 0 && rng.unit() < params_.loss) return std::nullopt;
        if (params_.bandwidth) {
            timestamp& busy = dir == direction::up ? busy_up_ : busy_down_;
            if (busy > t) t = busy;
            t += duration(static_cast<duration::rep>(size * 1'000'000'000ULL / *params_.bandwidth));
            busy = t;
        }
        t += params_.latency;
        if (params_.jitter.count() > 0)
            t += duration(static_cast<duration::rep>(rng.uniform(static_cast<std::uint64_t>(params_.jitter.count()))));
        return t;
    }

    const link_params& params() const { return params_; }

private:
    link_params params_;
    timestamp busy_up_{};
    timestamp busy_down_{};
};

} // namespace ovl::sim
