// An introducer's registrations: which firewalled peer (by public key) can be reached
// at which endpoint, until when. Capped: a full table refuses new peers, so the
// registrant moves on to its next-closest introducer.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/time.hpp"
#include "overlay/identity.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ovl::overlay {

using registration_digest = std::array<std::uint8_t, 16>;

struct registration {
    endpoint observed;
    // A digest of the signed message and the signature that were verified.
    registration_digest proof{};
    std::vector<endpoint> lan;
    std::string nat;
    // Sequential NATs: the port step, for requesters to predict the next mapping.
    int port_delta = 0;
    timestamp expires;
    // Its global IPv6 endpoint, as it says (read_ipv6_endpoint).
    std::optional<endpoint> ipv6;
};

class registration_table {
public:
    explicit registration_table(std::size_t max_registrations);

    enum class result { added, refreshed, full };
    result upsert(timestamp now, const public_key& key, registration r);
    const registration* find(timestamp now, const public_key& key) const;
    bool from_registered(timestamp now, const public_key& key, const endpoint& from) const;
    void expire(timestamp now);
    std::size_t size() const { return table_.size(); }
    std::size_t capacity() const { return max_; }

private:
    struct key_hash {
        std::size_t operator()(const public_key& k) const noexcept {
            return std::hash<std::string_view>{}({reinterpret_cast<const char*>(k.data()), k.size()});
        }
    };

    std::size_t max_;
    // The key held in place: no second allocation per registration, none per lookup.
    std::unordered_map<public_key, registration, key_hash> table_;
};

} // namespace ovl::overlay
