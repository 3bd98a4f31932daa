// What an introduction carries. The arguments of ovl_introduce and ovl_relay are read and
// checked once, from a decoded query (the general path, and transports that decode KRPC
// themselves) or straight from the flat parse of the datagram (the introducer's fast path
// for ovl_introduce), and the ovl_introduction notice and the ovl_introduce reply are
// written from them straight to bytes: both paths send the same datagrams, and a busy
// introducer builds no bencode tree per introduction.
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/bencode/decode.hpp"
#include "dht/bencode/value.hpp"
#include "dht/node_id.hpp"
#include "overlay/identity.hpp"
#include "overlay/registration_table.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace ovl::overlay {

// Predicted endpoints of a sequential NAT's next mapping, carried in an introduction.
inline constexpr std::size_t max_predictions = 16;
// LAN endpoints a peer may name.
inline constexpr std::size_t max_lan_endpoints = 4;

// Up to N endpoints, held in place (no allocation per request).
template <std::size_t N>
class endpoint_set {
public:
    void push(const endpoint& ep) {
        if (size_ < N) items_[size_++] = ep;
    }
    bool full() const { return size_ == N; }
    std::span<const endpoint> view() const { return {items_.data(), size_}; }

private:
    std::array<endpoint, N> items_{};
    std::size_t size_ = 0;
};

// Views point into the query, which must outlive the request.
struct introduction_request {
    public_key requester{};
    public_key target{};
    // The requester's key as it arrived ("k"), echoed to the target.
    std::string_view requester_bytes;
    std::string_view sid;
    std::optional<std::string_view> token;
    // At most 32 bytes of the requester's NAT class.
    std::optional<std::string_view> nat;
    // Usable IPv6 endpoint (read_ipv6_endpoint's rules).
    std::optional<endpoint> ipv6;
    bool tcp = false;
    // At most 32 bytes, opaque to the introducer: what the requester wants from the target
    // (the torrent plugin puts a rendezvous hash here, never an info-hash).
    std::optional<std::string_view> context;
    endpoint_set<max_lan_endpoints> lan;
    // Set when "pred" is a non-empty list (even if none of its items is usable).
    bool predictions_given = false;
    endpoint_set<max_predictions> predictions;
};

// nullopt when "k", "t" or "sid" (8 bytes) is missing or malformed.
std::optional<introduction_request> read_introduction(const bencode::dict& args);
// The same from the flat parse of a whole query (its "a"); `scratch` is reused storage.
std::optional<introduction_request> read_introduction(const bencode::flat_reader& query,
                                                      std::vector<std::string_view>& scratch);

// Who writes: this node's id, the version it puts in "v", and whether it is read-only.
struct krpc_sender {
    const dht::node_id& id;
    std::string_view version;
    bool read_only = false;
};

// The ovl_introduction notice to the target: a complete KRPC query with transaction id `tid`.
void write_introduction_notice(bytes& out, const krpc_sender& self, std::string_view tid,
                               const introduction_request& request, const endpoint& requester, bool relayed);
// The response to ovl_introduce with the target's registration.
void write_introduction_reply(bytes& out, const krpc_sender& self, std::string_view tid, const endpoint& requester,
                              std::string_view sid, const registration& target);

} // namespace ovl::overlay
