// Counters the network keeps while it runs.
#pragma once

#include "sim/packet.hpp"

#include <array>
#include <cstdint>
#include <numeric>

namespace ovl::sim {

struct statistics {
    std::uint64_t sent = 0;          // packets hosts handed to the network (UDP and TCP)
    std::uint64_t delivered = 0;     // packets that reached a bound socket or TCP endpoint
    std::uint64_t events = 0;        // events processed (stale timers excluded)
    std::uint64_t timers = 0;        // on_timeout calls
    std::array<std::uint64_t, drop_reason_count> dropped{};

    std::uint64_t dropped_for(drop_reason r) const { return dropped[static_cast<std::size_t>(r)]; }
    std::uint64_t dropped_total() const {
        return std::accumulate(dropped.begin(), dropped.end(), std::uint64_t{0});
    }
};

} // namespace ovl::sim
