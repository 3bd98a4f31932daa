// Write tokens (BEP 5): get_peers hands a requester a token bound to its IP; only that
// IP may announce with it, and only for a while. Tokens are a keyed hash of the IP and
// info-hash under a secret that rotates; the previous secret is still accepted, so a
// token lives between one and two rotation periods.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/random.hpp"
#include "dht/base/time.hpp"
#include "dht/node_id.hpp"

#include <array>
#include <chrono>
#include <string>
#include <string_view>

namespace ovl::dht {

class token_manager {
public:
    token_manager(random_source& rng, timestamp now, duration rotation = std::chrono::minutes(5));

    std::string issue(timestamp now, const ip_address& requester, const node_id& info_hash);
    bool accepts(timestamp now, const ip_address& requester, const node_id& info_hash, std::string_view token);

private:
    using secret = std::array<std::uint8_t, 16>;
    void rotate_if_due(timestamp now);
    static std::string compute(const secret& key, const ip_address& requester, const node_id& info_hash);

    random_source& rng_;
    duration rotation_;
    timestamp rotated_at_;
    secret current_{};
    secret previous_{};
};

} // namespace ovl::dht
