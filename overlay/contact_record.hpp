// A peer's contact record: how to reach it (observed and LAN endpoints, NAT class, its
// current introducers, the transports it accepts), published in the DHT as a BEP 44
// mutable item under the peer's own key, so anyone can verify it and nobody else (an
// introducer included) can forge or alter it. Stock BEP 44 nodes store it too.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/bencode/value.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ovl::overlay {

inline constexpr std::string_view contact_salt = "ovl-contact";

struct contact_record {
    std::vector<endpoint> observed;
    std::vector<endpoint> lan;
    std::string nat;
    std::vector<endpoint> introducers;
    std::vector<std::string> transports;
    // How long after publication the record should be trusted.
    std::chrono::seconds ttl{std::chrono::minutes(30)};

    bencode::value encode() const;
    // nullopt when the value is not a well-formed record (with the reason in `why`):
    // sizes are capped, and observed and introducer endpoints must be global addresses
    // (a record may not point anyone at link-local, private, loopback, IPv4-mapped or
    // multicast targets); LAN endpoints must be private ones.
    static std::optional<contact_record> decode(const bencode::value& v, std::string* why = nullptr);
};

} // namespace ovl::overlay
