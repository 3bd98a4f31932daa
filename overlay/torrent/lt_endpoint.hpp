// Endpoint conversions between the cores' ovl::endpoint and libtorrent's (Boost.Asio)
// endpoints. IPv4-mapped IPv6 addresses become plain IPv4, as everywhere in the cores.
#pragma once

#include "dht/base/endpoint.hpp"

#include <libtorrent/socket.hpp>

namespace ovl::torrent {

inline lt::address to_lt(const ip_address& a) {
    if (a.is_v4()) return lt::address_v4(a.v4_value());
    lt::address_v6::bytes_type b{};
    std::copy(a.data(), a.data() + 16, b.begin());
    return lt::address_v6(b);
}

inline ip_address from_lt(const lt::address& a) {
    if (a.is_v4()) return ip_address::v4(a.to_v4().to_uint());
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) return ip_address::v4(lt::make_address_v4(lt::v4_mapped, v6).to_uint());
    return ip_address::v6(v6.to_bytes());
}

inline lt::udp::endpoint to_lt_udp(const endpoint& ep) { return {to_lt(ep.address), ep.port}; }
inline lt::tcp::endpoint to_lt_tcp(const endpoint& ep) { return {to_lt(ep.address), ep.port}; }
template <class Endpoint>
endpoint from_lt(const Endpoint& ep) {
    return endpoint{from_lt(ep.address()), ep.port()};
}

} // namespace ovl::torrent
