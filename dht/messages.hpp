// The BEP 5 query arguments and response values (with BEP 32's IPv6 forms), built and
// read as typed values. Readers treat every field as untrusted: wrong types or lengths
// read as absent.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/bencode/value.hpp"
#include "dht/mutable_item.hpp"
#include "dht/node_id.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ovl::dht {

struct contact {
    node_id id;
    endpoint ep;
};

// A set of address families: those a node has sockets for, a lookup runs over, or a
// querier wants nodes of (BEP 32 "want").
struct address_families {
    bool v4 = false;
    bool v6 = false;

    static address_families of(ip_family f) { return {f == ip_family::v4, f == ip_family::v6}; }
    bool has(ip_family f) const { return f == ip_family::v6 ? v6 : v4; }
    bool has(const ip_address& a) const { return has(a.family()); }
    friend bool operator==(const address_families&, const address_families&) = default;
};

namespace method {
inline constexpr const char* ping = "ping";
inline constexpr const char* find_node = "find_node";
inline constexpr const char* get_peers = "get_peers";
inline constexpr const char* announce_peer = "announce_peer";
// BEP 44.
inline constexpr const char* get = "get";
inline constexpr const char* put = "put";
} // namespace method

bencode::dict ping_args(const node_id& self);
bencode::dict find_node_args(const node_id& self, const node_id& target);
bencode::dict get_peers_args(const node_id& self, const node_id& info_hash);
bencode::dict announce_args(const node_id& self, const node_id& info_hash, std::uint16_t port, bool implied_port,
                            const std::string& token);
// BEP 44 get; with `seq`, nodes holding an item no newer than that omit its value.
bencode::dict get_item_args(const node_id& self, const node_id& target, std::optional<std::int64_t> seq);
// BEP 44 put of a mutable item; `v` is item.value decoded.
bencode::dict put_item_args(const node_id& self, const std::string& token, const mutable_item& item,
                            const bencode::value& v);
// The mutable item (k, seq, sig, v) in a get response or put query, without checking its
// signature; nullopt when a field is missing or malformed.
std::optional<mutable_item> read_item(const bencode::dict& body, std::string_view salt);

// The "id" every query and response carries.
std::optional<node_id> sender_id(const bencode::dict& body);
std::optional<node_id> read_id(const bencode::dict& body, const char* key);

// BEP 32: the families whose nodes a reply carries: those the query's "want" names
// ("n4", "n6"), or the querier's own family when it names neither (or "want" is no
// list), so a node that did not ask never gets a mixed-family reply.
address_families reply_families(const ip_address& querier, bool want_n4, bool want_n6);
address_families read_want(const bencode::dict& args, const ip_address& querier);
// "want" asking for both families, for a dual-stack node's lookups.
bencode::list want_both();

// Whether an IPv6 address another node told us about (in "nodes6" or "values") may
// ever be sent to: global unicast or loopback; never IPv4-mapped, link-local, ULA,
// multicast or unspecified. (Loopback is for local tests; see traversal.cpp.)
bool acceptable_v6_remote(const ip_address& a);

// Compact node infos: "nodes", 26 bytes each (IPv4), and "nodes6", 38 bytes each
// (BEP 32). Entries of the other family are left out when encoding. Decoding skips
// malformed entries and unacceptable IPv6 addresses; a "nodes6" whose length is not a
// multiple of 38 is not IPv6 node infos at all and is ignored whole.
std::string encode_nodes(const std::vector<contact>& nodes);
std::string encode_nodes6(const std::vector<contact>& nodes);
std::vector<contact> decode_nodes(const bencode::dict& body);
std::vector<contact> decode_nodes6(const bencode::dict& body);
// Compact peers ("values": 6 bytes IPv4, 18 bytes IPv6); malformed entries and
// unacceptable IPv6 addresses are skipped, at most `max` are read.
bencode::list encode_values(const std::vector<endpoint>& peers);
std::vector<endpoint> decode_values(const bencode::dict& body, std::size_t max = 200);

} // namespace ovl::dht
