// Handles the network gives out for hosts and NATs: plain indices, typed so they cannot mix.
#pragma once

#include <compare>
#include <cstdint>

namespace ovl::sim {

struct host_id {
    std::uint32_t value = 0;
    friend auto operator<=>(const host_id&, const host_id&) = default;
};

struct nat_id {
    std::uint32_t value = 0;
    friend auto operator<=>(const nat_id&, const nat_id&) = default;
};

} // namespace ovl::sim
